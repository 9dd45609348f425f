"""What an outside attack found on public surfaces (issue 15, Medium 7): a generalised record named
regions finer than its generalisation (an obscured record its county in the feed, a 1° record
"first record in <county>" in the Darwin Core archive, county codes in alerts to the public)."""

import io
import json
import zipfile

import pytest
from rest_framework.test import APIClient

from alerts.models import AlertDelivery
from alerts.services import observation_alert
from community.dwca import dwca_write
from community.services import observation_review
from observations.models import Observation
from tests.factories import contact
from tests.world import classified

pytestmark = pytest.mark.django_db
COUNTY = "AAA-N1"  # the geo fixture's county holds the point (7, 2)


def _confirmed_in_the_county(users, model_version, taxa, **fields):
    observation = classified(users["alice"], 7.123, 2.456, [("Testus invasor", 0.6)], model_version, **fields)
    observation_review(observation=observation, reviewer=users["rita"], decision="confirm", taxon=taxa["invasor"])
    observation.refresh_from_db()
    assert observation.first_record_regions == [COUNTY, "AAA-N", "AAA"]  # the owner's own record knows
    return observation


def test_medium7_obscured_record_does_not_name_its_county_in_the_feed(users, geo, model_version, taxa):
    obscured = _confirmed_in_the_county(users, model_version, taxa, geoprivacy="obscured")
    item = APIClient().get(f"/api/v1/feed/{obscured.uuid}/").json()
    assert item["location"]["generalisation"] == "0.1"
    assert [r["code"] for r in item["regions"]] == ["AAA-N", "AAA"]
    assert item["first_record_regions"] == ["AAA-N", "AAA"]
    listed = APIClient().get("/api/v1/feed/").json()["results"]
    assert COUNTY not in json.dumps(listed)
    Observation.objects.filter(pk=obscured.pk).update(geoprivacy="open")  # an open record may name it
    assert [r["code"] for r in APIClient().get(f"/api/v1/feed/{obscured.uuid}/").json()["regions"]] == [
        COUNTY,
        "AAA-N",
        "AAA",
    ]


def test_medium7_one_degree_record_says_first_record_without_the_county_in_the_archive(users, geo, model_version, taxa):
    taxa["invasor"].sensitivity = "1"
    taxa["invasor"].save()
    _confirmed_in_the_county(users, model_version, taxa)
    buf = io.BytesIO()
    dwca_write(buf)
    occurrences = zipfile.ZipFile(buf).read("occurrence.txt").decode()
    header, row = (line.split("\t") for line in occurrences.splitlines()[:2])
    record = dict(zip(header, row))
    assert record["occurrenceRemarks"] == "first record in AAA-N, AAA"
    assert COUNTY not in occurrences and "Lake County" not in occurrences


def test_medium7_alert_to_a_non_agency_contact_carries_no_county(users, geo, model_version, taxa):
    council = contact(geo["country"], "Aland Invasives Council", "invasive_species_council")
    council.email = "council@example.org"
    council.save()
    obscured = _confirmed_in_the_county(users, model_version, taxa, geoprivacy="obscured")
    observation_alert(observation_id=obscured.pk, trigger="verified")
    payload = AlertDelivery.objects.get(contact=council).payload
    assert payload["observation"]["location"]["exact"] is False
    assert payload["verdict"]["region_codes"] == ["AAA-N", "AAA"] and payload["observation"][
        "first_record_regions"
    ] == ["AAA-N", "AAA"]
    assert COUNTY not in json.dumps(payload) and "Lake County" not in json.dumps(payload)


def test_medium7_agencies_still_get_the_exact_record(users, geo, model_version, taxa):
    agency = contact(geo["country"], "Aland National Agency", "national_agency")
    agency.email = "agency@example.org"
    agency.save()
    obscured = _confirmed_in_the_county(users, model_version, taxa, geoprivacy="obscured")
    observation_alert(observation_id=obscured.pk, trigger="verified")
    payload = AlertDelivery.objects.get(contact=agency).payload
    assert (
        payload["observation"]["location"]["exact"] is True and payload["observation"]["location"]["latitude"] == 7.123
    )
    assert (
        payload["verdict"]["region_codes"] == [COUNTY, "AAA-N", "AAA"]
        and payload["observation"]["first_record_regions"][0] == COUNTY
    )
