"""Contacts from the registers' own leads (issue 21): public bodies named in the national GRIIS
checklists, each citing its checklist, unverified, never a person; counted by contacts_report."""

import csv
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from ranges.models import Contact
from ranges.starter import CONTACT_LEADS, load_contacts
from species.starter import read_csv
from tests.conftest import shared_path
from tests.factories import TaxonFactory, contact, region, status
from tests.ranges.test_contacts_data import loaded_region_codes  # noqa: F401  (a fixture)

LEADS = read_csv(CONTACT_LEADS)


def test_leads_cite_their_checklist_stay_unverified_and_name_no_person():
    assert len({r["region_code"] for r in LEADS}) >= 40
    covered = {r["region_code"] for r in read_csv("contacts.csv")}
    for row in LEADS:
        assert row["source_url"].startswith("https://") and "gbif.org" in row["source_url"], row
        assert row["verified_on"] == "" and "not yet checked" in row["notes"], row
        assert (row["phone"], row["email"], row["url"]) == ("", "", ""), "no address of anyone: the source gives none"
        assert row["region_code"] not in covered, f"{row['region_code']} already has a curated contact"
        assert not any(word in row["organisation"] for word in ("University", "Universidad", "Mr ", "Dr ", "PO Box"))


def test_every_lead_is_an_organisation_the_checklists_name():
    """Input: the shared organisations table; every lead's checklist names it (the builder's table)."""
    from species.starter_pack.build_contact_leads import ACCEPTED, alpha3

    path = shared_path("contacts", "griis_checklist_organisations.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        named = {(r["countryCode"], r["organisation"]) for r in csv.DictReader(fh)}
    for code, organisations in ACCEPTED.items():
        for as_written, *_ in organisations:
            assert (code, as_written) in named, (code, as_written)
    assert {r["region_code"] for r in LEADS} <= {alpha3(code) for code in ACCEPTED}


def test_lead_regions_are_regions_a_fresh_install_loads(loaded_region_codes):  # noqa: F811
    missing = {r["region_code"] for r in LEADS} - loaded_region_codes
    assert len(missing) <= 3, f"leads for regions a fresh install lacks: {sorted(missing)}"


@pytest.mark.django_db
def test_region_lookup_names_the_unverified_local_body_with_its_source(client):
    """Input: Tonga as a region and the starter pack's contacts: the lookup gives Tonga's ministry,
    unverified, citing the Tonga GRIIS checklist, instead of the global fallback."""
    tonga = region("TON", "country", (-176.5, -22.5, -173.5, -15.5), name="Tonga")
    load_contacts({"TON": tonga})
    body = client.get(reverse("region-lookup"), {"lat": -21.13, "lon": -175.2}).json()
    (local,) = body["contacts"]
    assert local["organisation"] == "Ministry of Environment and Climate Change, Government of Tonga"
    assert local["verified_on"] is None and not local["is_fallback"]
    assert local["source_url"].startswith("https://")


@pytest.mark.django_db
def test_contacts_report_counts_countries_by_contact_state():
    """Verified, unverified and fallback countries with invasive animals; a plant-only country is left out."""
    animalia = TaxonFactory(scientific_name="Animalia", rank="kingdom")
    rat = TaxonFactory(
        scientific_name="Rattus rattus", parent=TaxonFactory(scientific_name="Rattus", rank="genus", parent=animalia)
    )
    weed = TaxonFactory(
        scientific_name="Lantana camara", parent=TaxonFactory(scientific_name="Plantae", rank="kingdom")
    )
    verified, unverified, fallback = (
        region("AAA", "country", (0, 0, 10, 10), name="Aland"),
        region("BBB", "country", (10, 0, 20, 10), name="Bland"),
        region("CCC", "country", (20, 0, 30, 10), name="Cland"),
    )
    plants_only = region("DDD", "country", (30, 0, 40, 10), name="Dland")
    for place in (verified, unverified, fallback):
        status(rat, place, "invasive")
    status(weed, plants_only, "invasive")
    Contact.objects.filter(pk=contact(verified).pk).update(verified_on="2026-12-01")
    contact(unverified)

    out = io.StringIO()
    call_command("contacts_report", "--all", stdout=out)
    assert out.getvalue().splitlines()[-1] == (
        "4 countries with invasive records: 2 with a local contact (verified 1, unverified 1), "
        "2 without (fallback: their alerts name the global fallback)"
    )
    out = io.StringIO()
    call_command("contacts_report", "--kingdom", "Animalia", stdout=out)
    assert (
        out.getvalue()
        .splitlines()[-1]
        .startswith(
            "3 countries with invasive Animalia records: 2 with a local contact (verified 1, unverified 1), 1 without"
        )
    )
