"""All of ../shared/data imported (as bench/verdict.py does, after the starter pack): the invaders issue 14
names are invasive where GRIIS says so, each with the national checklist it came from."""

import pytest

from bench.verdict import IMPORTS
from ranges.importers import ImportConfig, data_import
from ranges.index_cache import build_range_index
from ranges.models import RegionalStatus
from ranges.starter import load_statuses_and_contacts
from ranges.verdict import verdict
from species.selectors import taxon_by_name
from species.starter import load_taxa_and_facts
from tests.conftest import SHARED_DATA, shared_path

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

# (taxon, region, the checklist's area, a point there as lon, lat)
INVADERS = [
    ("Vulpes vulpes", "AUS", "Australia", 146.0, -36.0),
    ("Oryctolagus cuniculus", "AUS", "Australia", 135.0, -30.0),
    ("Camelus dromedarius", "AUS", "Australia", 132.0, -25.0),
    ("Equus asinus", "AUS", "Australia", 130.0, -17.0),
    ("Sus scrofa", "AUS", "Australia", 145.0, -17.0),
    ("Myocastor coypus", "ITA", "Italy", 12.5, 41.9),
    ("Sciurus carolinensis", "GBR", "Great Britain", -1.3, 52.0),
    ("Psittacula krameri", "GBR", "Great Britain", -0.1, 51.5),
    ("Trichosurus vulpecula", "NZL", "New Zealand", 175.0, -39.0),
    ("Cervus elaphus", "NZL", "New Zealand", 170.5, -44.0),
    ("Castor canadensis", "ARG", "Argentina", -67.7, -54.3),  # Tierra del Fuego
    ("Lates niloticus", "UGA", "Uganda", 33.0, 1.0),
]


def test_issue_14_invaders_after_importing_all_shared_data():
    """Input: every data set in ../shared/data, in the order of bench/verdict.py, after a fresh install's
    starter pack (its GRIIS extract carries the same source names, so the full import agrees with it)."""
    for _, paths in IMPORTS:
        for path in paths:
            shared_path(*path.relative_to(SHARED_DATA).parts)  # skips when ../shared/data lacks it
    regions, *rest = IMPORTS
    data_import(ImportConfig(fmt=regions[0], paths=tuple(regions[1]), progress=False))
    load_taxa_and_facts()
    load_statuses_and_contacts()
    for fmt, paths in rest:
        data_import(ImportConfig(fmt=fmt, paths=tuple(paths), progress=False))

    index = build_range_index()
    for name, code, area, lon, lat in INVADERS:
        taxon = taxon_by_name(name)
        record = RegionalStatus.objects.get(
            taxon=taxon, region__code=code, source__startswith=f"GRIIS checklist: {area} v"
        )
        assert record.status == "invasive" and record.degree_of_establishment == "invasive", f"{name} in {code}"
        assert "Cite: " in record.note and record.source_url.startswith("https://"), f"{name} in {code}"
        answer = verdict(taxon.scientific_name, lon, lat, index)
        assert answer.status == "invasive", f"{name} at {lon}, {lat}: {answer}"
        assert record.source in {source["name"] for source in answer.sources}, f"{name}: {answer.sources}"

    # The starter pack's records were what the full import writes: loading it again changes nothing.
    assert load_statuses_and_contacts()["statuses"] == 0
