"""import_occurrences on the real GBIF download sample and on the other formats."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import shared_path
from watchlists.models import Occurrence, OccurrenceVerdict
from watchlists.occurrence_files import CHUNK_COLUMNS, Skipped, read_occurrence_chunks, read_occurrences

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
    # The nine share one stored verdict, its text written once.
    shared = OccurrenceVerdict.objects.get()
    assert shared.status == "unknown" and "not in RangeWatch's taxonomy" in shared.explanation
    assert set(Occurrence.objects.values_list("verdict_id", flat=True)) == {shared.pk}

    before = list(Occurrence.objects.order_by("pk").values())
    verdicts_before = list(OccurrenceVerdict.objects.order_by("pk").values())
    second = run_import(archive)
    assert (second["read"], second["created"], second["updated"], second["unchanged"]) == (13, 0, 0, 9)
    # Names the taxonomy lacks are counted over every kept record, written or not, on either engine.
    assert first["unmatched_names"] == second["unmatched_names"] == 9
    assert list(Occurrence.objects.order_by("pk").values()) == before
    assert list(OccurrenceVerdict.objects.order_by("pk").values()) == verdicts_before


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


# -- the chunked reader and the staged write -------------------------------------------------------

TRICKY_DOWNLOAD = (
    "gbifID\tdatasetKey\tdatasetName\toccurrenceID\tspecies\tscientificName\tdecimalLatitude\tdecimalLongitude\t"
    "occurrenceStatus\teventDate\tlicense\trightsHolder\tcoordinateUncertaintyInMeters\tbibliographicCitation\t"
    "references\n"
    "1\tds1\tFirst set\tocc-1\tTestus invasor\tTestus invasor L.\t50.8\t4.3\tPRESENT\t2024-05-01T10:00\tCC0_1_0\tA\t10\t\t\n"
    "2\tds1\tFirst set\tocc-2\tTestus invasor\tx\t50.8\t4.3\t absent \t2024-05-01\tCC0_1_0\tA\t\t\t\n"
    "3\tds1\tFirst set\t  \t\tTestus nativus Smith\t-33.123456789\t151.2\t\t2018-05-01/2018-05-31\t\tB\t12.5\tLabel 7\t\n"
    "\tds1\tFirst set\t\tTestus invasor\t\t1\t2\t\t2018-02-30\t\t\t\t\thttps://example.org/r/4\n"
    "5\tds2\t\tocc-5\t \tTestus nativus\t1\t2\t\t\t\t\tNaN\t\t\n"
    "6\tds2\t\tocc-6\tTestus nativus\t\tabc\t2\t\t\t\t\t\t\t\n"
    "7\tds2\t\tocc-7\tTestus nativus\t\t91\t2\t\t\t\t\t\t\t\n"
    "8\tds2\t\tocc-8\tTestus nativus\t\tNaN\t2\t\t\t\t\t\t\t\n"
    "9\t\t\tocc-9\tTestus nativus\t\t-90\t180\t\tnot a date\tCC_BY_4_0\t" + "R" * 400 + "\t1e1\t\t\n"
    "10\tds3\t\tocc-10\tTestus nativus\t\t1.5\n"
)


def _chunk_rows(path, chunk_rows: int) -> tuple[int, Counter, list[dict]]:
    read, skipped, rows = 0, Counter(), []
    for chunk in read_occurrence_chunks(path, chunk_rows):
        read += chunk.read
        skipped.update(chunk.skipped)
        for values in zip(*(chunk.columns[name].tolist() for name in CHUNK_COLUMNS)):
            row = dict(zip(CHUNK_COLUMNS, values))
            row["coordinate_uncertainty_m"] = (
                None
                if row["coordinate_uncertainty_m"] != row["coordinate_uncertainty_m"]
                else row["coordinate_uncertainty_m"]
            )
            rows.append(row)
    return read, skipped, rows


def _row_by_row(path) -> tuple[int, Counter, list[dict]]:
    read, skipped, rows = 0, Counter(), []
    for row in read_occurrences(path):
        read += 1
        if isinstance(row, Skipped):
            skipped[row.reason] += 1
            continue
        values = {name: getattr(row, name) for name in CHUNK_COLUMNS if name != "row_sha1"}
        values["event_date"] = row.event_date.isoformat() if row.event_date else None
        rows.append({**values, "row_sha1": row.sha1})
    return read, skipped, rows


@pytest.mark.parametrize("chunk_rows", [1, 3, 50_000])
def test_the_chunked_reader_gives_what_the_row_rules_give(tmp_path, chunk_rows):
    download = tmp_path / "0009-simple.csv"
    download.write_text(TRICKY_DOWNLOAD, encoding="utf-8")
    inat = tmp_path / "observations-9.csv"
    inat.write_text(
        "id,observed_on,time_observed_at,user_login,user_name,url,license,scientific_name,latitude,longitude,"
        "positional_accuracy\n"
        '7,2023-06-02,,ann,"Ann, A.",https://www.inaturalist.org/observations/7,CC-BY-NC,"Testus nativus",51.0,4.0,25\n'
        '8,,2023-07-01T10:00:00Z,bob,,,CC0," Testus\nnativus ",51.5,4.5,\n'
        "9,2023-06-02,,cy,,,CC0,,51.0,4.0,\n"
        ",2023-06-02,,dee,,,CC0,Testus nativus,51.0,4.0,\n"
        "10,2023-06-02,,eve,,,CC0,Testus nativus,,4.0,\n",
        encoding="utf-8",
    )
    for path in (download, inat, shared_path("occurrences", "gbif_download_sample", "gbif_download.zip")):
        expected = _row_by_row(path)
        assert _chunk_rows(path, chunk_rows) == expected
    assert expected[0] == 13  # the archive: every row read, its skips counted as the rules count them
    read, skipped, rows = _chunk_rows(download, chunk_rows)
    assert (read, dict(skipped)) == (10, {"absent": 1, "no_id": 1, "no_name": 1, "no_coordinates": 4})
    assert [r["occurrence_id"] for r in rows] == ["occ-1", "gbif:3", "occ-9"]  # occ-10: a short row, no longitude


def test_a_second_chunk_updates_what_the_first_wrote_and_a_changed_row_is_all_a_rerun_writes(tmp_path):
    header = "gbifID\tdatasetKey\toccurrenceID\tspecies\tdecimalLatitude\tdecimalLongitude\teventDate\tlicense\n"
    first = tmp_path / "first.csv"
    first.write_text(
        header
        + "1\tds\tocc-1\tTestus invasor\t50\t4\t2024-05-01\tCC0_1_0\n"
        + "2\tds\tocc-2\tTestus invasor\t50\t4\t2024-05-01\tCC0_1_0\n"
        + "1\tds\tocc-1\tTestus invasor\t51\t4\t2024-05-01\tCC0_1_0\n"  # the same record again, moved: in chunk 2
        + "3\tds\tocc-3\tTestus invasor\t50\t4\t2024-05-01\tCC0_1_0\n",
        encoding="utf-8",
    )
    report = run_import(first, "--batch-size", "2")
    assert (report["read"], report["created"], report["updated"], report["unchanged"]) == (4, 3, 1, 0)
    assert Occurrence.objects.get(occurrence_id="occ-1").latitude == 51

    second = tmp_path / "second.csv"
    second.write_text(
        header
        + "1\tds\tocc-1\tTestus invasor\t51\t4\t2024-05-01\tCC0_1_0\n"
        + "2\tds\tocc-2\tTestus invasor\t50\t4\t2024-05-01\tCC_BY_4_0\n"  # its licence changed
        + "3\tds\tocc-3\tTestus invasor\t50\t4\t2024-05-01\tCC0_1_0\n",
        encoding="utf-8",
    )
    before = {o["occurrence_id"]: o for o in Occurrence.objects.values()}
    report = run_import(second, "--batch-size", "2")
    assert (report["read"], report["created"], report["updated"], report["unchanged"]) == (3, 0, 1, 2)
    after = {o["occurrence_id"]: o for o in Occurrence.objects.values()}
    assert after["occ-2"]["license"] == "CC_BY_4_0" and after["occ-2"]["imported"] >= before["occ-2"]["imported"]
    assert {k: after[k] for k in ("occ-1", "occ-3")} == {k: before[k] for k in ("occ-1", "occ-3")}
    assert after["occ-2"]["id"] == before["occ-2"]["id"]


def test_a_process_on_sqlite_imports_the_importer_without_the_postgresql_driver(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import sys, django; django.setup(); import watchlists.importing; from django.db import connection;"
        " print(connection.vendor, sorted(m for m in sys.modules if m.split('.')[0] == 'psycopg'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="backend.settings.test", RANGEWATCH_VAR_DIR=str(tmp_path))
    env.pop("TEST_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["sqlite", "[]"]
