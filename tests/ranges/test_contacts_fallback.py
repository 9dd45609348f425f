"""Contacts as users get them: local ones where the starter pack has any, else the labelled global fallback."""

import pytest
from rest_framework.test import APIClient

from ranges.contacts import contacts_for_regions, contacts_or_fallback
from ranges.models import FALLBACK_REGION_CODE, Contact, Region
from ranges.starter import CONTACT_LEADS, load_contacts
from species.starter import read_csv
from tests.factories import TaxonFactory, region, status

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """New Zealand (contacts in the starter pack) and a country the pack has none for, contacts loaded."""
    nzl = region("NZL", "country", (166, -47, 179, -34), name="New Zealand")
    nowhere = region("ZZZ", "country", (-20, 10, -10, 20), name="Nowhere")
    load_contacts({"NZL": nzl, "ZZZ": nowhere})
    return nzl, nowhere


def test_load_contacts_creates_the_fallback_region_and_keeps_verification_dates(world):
    fallback = Region.objects.get(code=FALLBACK_REGION_CODE)
    assert fallback.kind == "group" and not fallback.geometry
    rows = [r for r in read_csv("contacts.csv") if r["region_code"] in ("NZL", FALLBACK_REGION_CODE)]
    assert Contact.objects.count() == len(rows)
    assert Contact.objects.filter(verified_on__isnull=False).count() == sum(1 for r in rows if r["verified_on"])


def test_loading_twice_changes_nothing(world):
    nzl, nowhere = world
    rows = len(read_csv("contacts.csv")) + len(read_csv(CONTACT_LEADS))  # the checklists' leads are loaded too
    assert load_contacts({"NZL": nzl, "ZZZ": nowhere}) == (0, rows - Contact.objects.count())


def test_local_contacts_win_and_are_not_labelled_fallback(world):
    answer = APIClient().get("/api/v1/regions/lookup/", {"lat": -41.3, "lon": 174.8}).json()
    assert answer["contacts"] and all(c["region"] == "NZL" and not c["is_fallback"] for c in answer["contacts"])
    assert any(c["phone"] == "+64800809966" for c in answer["contacts"]), "the MPI pest and disease hotline"


def test_a_country_without_contacts_gets_the_labelled_fallback(world):
    answer = APIClient().get("/api/v1/regions/lookup/", {"lat": 15, "lon": -15}).json()
    assert [r["code"] for r in answer["regions"]] == ["ZZZ"], "the World region never contains a point"
    contacts = answer["contacts"]
    assert contacts and all(c["is_fallback"] and c["source_url"] for c in contacts)
    assert {c["region"] for c in contacts} == {FALLBACK_REGION_CODE}


def test_an_invasive_verdict_without_local_contacts_names_the_fallback(world):
    _, nowhere = world
    taxon = TaxonFactory(scientific_name="Rattus rattus")
    status(taxon, nowhere, "invasive")
    answer = APIClient().get("/api/v1/check/", {"lat": 15, "lon": -15, "taxon": "Rattus rattus"}).json()
    assert answer["verdict"]["status"] == "invasive"
    assert answer["alert"]["contacts"] and all(c["is_fallback"] for c in answer["alert"]["contacts"])


def test_alert_delivery_keeps_to_local_contacts(world):
    """The fallback bodies are named to the user, never sent every alert of the world."""
    assert contacts_for_regions(["ZZZ"]) == []
    assert contacts_or_fallback(["ZZZ"])
