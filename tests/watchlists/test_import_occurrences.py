"""import_occurrences on the real GBIF download sample and on the other formats."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import shared_path
from watchlists.models import Occurrence
from watchlists.occurrence_files import read_occurrences

pytestmark = pytest.mark.django_db


def run_import(*args) -> dict:
    out = io.StringIO()
    call_command("import_occurrences", *map(str, args), stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


def test_real_gbif_archive_reads_13_rows_skips_absent_and_no_coordinates_and_keeps_licences():
    archive = shared_path("occurrences", "gbif_download_sample", "gbif_download.zip")
    first = run_import(archive)
    assert first["read"] == 13
    assert first["skipped"] == {"absent": 1, "no_coordinates": 3}
    assert first["created"] == 9 and Occurrence.objects.count() == 9
    licences = set(Occurrence.objects.values_list("license", flat=True))
    assert licences == {"CC_BY_NC_4_0", "CC_BY_4_0", "CC0_1_0"}
    museum = Occurrence.objects.get(occurrence_id="NMR996300123818")
    assert museum.dataset == "a307e4d7-1de2-4adc-95d5-a0a8d5f57236"
    assert museum.citation == (
        "Polydrusus prasinus (Olivier, 1790) [NMR996300123818]. Natural History Museum Rotterdam - Specimens"
        " via GBIF.org (https://www.gbif.org/occurrence/2570206412)"
    )
    assert museum.source_url == "https://www.gbif.org/occurrence/2570206412"
    # A record without occurrenceID is kept under its GBIF id.
    assert Occurrence.objects.filter(occurrence_id="gbif:887380098").exists()
    # Every record was judged (the taxa are not in this database: "unknown", said so).
    assert set(Occurrence.objects.values_list("verdict_status", flat=True)) == {"unknown"}

    before = list(Occurrence.objects.order_by("pk").values())
    second = run_import(archive)
    assert (second["read"], second["created"], second["updated"], second["unchanged"]) == (13, 0, 0, 9)
    assert list(Occurrence.objects.order_by("pk").values()) == before


def test_simple_download_and_inaturalist_csv_are_read(tmp_path):
    simple = tmp_path / "0001234-simple.csv"
    simple.write_text(
        "gbifID\tdatasetKey\toccurrenceID\tspecies\tscientificName\tdecimalLatitude\tdecimalLongitude\t"
        "occurrenceStatus\teventDate\tlicense\trightsHolder\tcoordinateUncertaintyInMeters\n"
        "11\tds1\tocc-1\tTestus invasor\tTestus invasor L.\t50.8\t4.3\tPRESENT\t2024-05-01T10:00\tCC_BY_4_0\tA\t10\n"
        "12\tds1\tocc-2\tTestus invasor\tTestus invasor L.\t\t\tPRESENT\t2024-05-01\tCC_BY_4_0\tA\t\n"
        "13\tds1\tocc-3\tTestus invasor\tTestus invasor L.\t50.8\t4.3\tABSENT\t2024-05-01\tCC_BY_4_0\tA\t\n",
        encoding="utf-8",
    )
    rows = list(read_occurrences(simple))
    assert [type(r).__name__ for r in rows] == ["OccurrenceRow", "Skipped", "Skipped"]
    assert rows[0].event_date.isoformat() == "2024-05-01" and rows[0].coordinate_uncertainty_m == 10.0

    inat = tmp_path / "observations-123.csv"
    inat.write_text(
        "id,observed_on,user_login,url,license,scientific_name,latitude,longitude,positional_accuracy\n"
        '7,2023-06-02,ann,https://www.inaturalist.org/observations/7,CC-BY-NC,"Testus nativus",51.0,4.0,25\n'
        "8,2023-06-02,bob,https://www.inaturalist.org/observations/8,CC0,Testus nativus,,,\n",
        encoding="utf-8",
    )
    report = run_import(inat)
    assert report["read"] == 2 and report["created"] == 1 and report["skipped"] == {"no_coordinates": 1}
    record = Occurrence.objects.get()
    assert record.dataset == "inaturalist" and record.license == "CC-BY-NC"
    assert "ann (2023). iNaturalist observation" in record.citation


def test_an_unknown_file_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_text("a,b\n1,2\n")
    with pytest.raises(CommandError, match="expected a GBIF download"):
        run_import(junk)
    with pytest.raises(CommandError, match="no such file"):
        run_import(tmp_path / "missing.zip")
