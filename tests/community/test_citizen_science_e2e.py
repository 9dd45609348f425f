"""End to end through the API: two users, a reviewer, one invasive sighting in a county with a
contact → one e-mail and one signed webhook, carrying the sighting's data; a threatened native's
public coordinates generalised everywhere, exact for its owner."""

import io
import json
import zipfile

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from alerts.models import ContactWebhook
from alerts.webhooks import SIGNATURE_HEADER, webhook_verify
from classifier.services import model_version_register
from observations.models import Observation, TaxonRegionSensitivity
from tests.factories import contact, jpeg_bytes, region, status
from tests.world import api_for

pytestmark = pytest.mark.django_db


def _register(name):
    response = APIClient().post(
        "/api/v1/auth/register/", {"username": name, "password": f"{name}-long-pass-phrase-7"}, format="json"
    )
    assert response.status_code == 201
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.data['token']}")
    return client


def _upload(client, lat, lon):
    photo = SimpleUploadedFile("p.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = client.post(
        "/api/v1/observations/", {"photo": photo, "latitude": lat, "longitude": lon}, format="multipart"
    )
    assert response.status_code in (200, 202), response.data
    return response.data["id"]


def test_invasive_sighting_alerts_once_and_threatened_native_is_generalised(
    settings, tiny_artifact, geo, users, taxa, receiver, eager_celery, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.RANGEWATCH_ALERT_IMMEDIATE_CONFIDENCE = 0.999  # this sighting waits for the reviewer
    # The tiny model always says "Testus nativus": invasive in Lake County, a threatened native in Bland.
    status(taxa["nativus"], geo["county"], "invasive")
    bland = region("BBB", "country", (20, 0, 30, 10), name="Bland")
    status(taxa["nativus"], bland, "native")
    TaxonRegionSensitivity.objects.create(
        taxon=taxa["nativus"], region=bland, sensitivity="0.1", reason="threatened; collected for trade"
    )
    agency = contact(geo["county"], "Lake County Wildlife", "wildlife_agency")
    agency.email = "invasives@lake.example.org"
    agency.save()
    ContactWebhook.objects.create(contact=agency, url=receiver.url, secret="lake-secret")
    contact(geo["country"], "Aland National Agency", "national_agency")  # broader: not the one alerted
    model_version_register(path=tiny_artifact, activate=True)
    alice, bob, rita = _register("alice2"), _register("bob2"), api_for(users["rita"])

    with django_capture_on_commit_callbacks(execute=True):
        sighting = _upload(alice, 7.123456, 2.654321)  # Lake County
        threatened = _upload(bob, 5.123456, 25.654321)  # Bland
    assert alice.get(f"/api/v1/observations/{sighting}/").data["verdict"]["status"] == "invasive"
    assert mail.outbox == [] and receiver.received == []  # not confident enough to skip review

    # Bob agrees with the model (new accounts carry no weight in the community taxon yet); the
    # reviewer confirms the taxon she names.
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            bob.post(
                f"/api/v1/observations/{sighting}/identifications/", {"taxon": "Testus nativus"}, format="json"
            ).status_code
            == 201
        )
        assert (
            alice.post(
                f"/api/v1/observations/{sighting}/identifications/", {"taxon": "Testus nativus"}, format="json"
            ).data["community_taxon"]
            is None
        )
        queue = rita.get("/api/v1/review/queue/?region=AAA-N1&verdict=invasive").data
        assert [item["id"] for item in queue["results"]] == [sighting]
        reviewed = rita.post(
            f"/api/v1/observations/{sighting}/review/",
            {"decision": "confirm", "taxon": "Testus nativus"},
            format="json",
        )
    assert reviewed.status_code == 200 and reviewed.data["citizen_science"]["first_record_regions"] == [
        "AAA-N1",
        "AAA-N",
        "AAA",
    ]

    # Exactly one e-mail and one signed webhook, to the county's contact, with the evidence.
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["invasives@lake.example.org"]
    body = mail.outbox[0].body
    assert (
        sighting in body
        and "7.123456" in body
        and "invasive" in body
        and "tiny-test" in body
        and "/photo/?sig=" in body
    )
    assert len(receiver.received) == 1
    request = receiver.received[0]
    assert webhook_verify("lake-secret", request["body"], request["headers"][SIGNATURE_HEADER])
    payload = json.loads(request["body"])
    assert payload["observation"]["id"] == sighting and payload["observation"]["verification"] == "confirmed"
    assert payload["observation"]["location"]["latitude"] == 7.123456 and payload["observation"]["location"]["exact"]
    assert payload["taxon"]["scientific_name"] == "Testus nativus" and payload["verdict"]["status"] == "invasive"
    assert payload["model_version"] == "tiny-test" and payload["predictions"][0]["key"] == "Testus nativus"
    assert payload["alert"]["level"] == "urgent" and payload["contact"]["organisation"] == "Lake County Wildlife"
    photo_url = payload["observation"]["photo_url"]
    photo = APIClient().get(photo_url[photo_url.index("/api/") :])
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"

    # The threatened native: generalised on every public surface, exact for its owner.
    public = APIClient().get(f"/api/v1/feed/{threatened}/").data["location"]
    assert (public["latitude"], public["longitude"]) == (5.15, 25.65) and public["generalised"]
    in_feed = {item["id"]: item["location"] for item in APIClient().get("/api/v1/feed/").data["results"]}
    assert in_feed[threatened]["latitude"] == 5.15 and in_feed[sighting]["latitude"] == 7.123456
    with django_capture_on_commit_callbacks(execute=True):  # the export job runs (eagerly) after commit
        started = rita.post("/api/v1/exports/dwca/", {}, format="json")
    download = rita.get(started["Location"]).data["download"]
    export = zipfile.ZipFile(io.BytesIO(b"".join(rita.get(download).streaming_content)))
    occurrences = export.read("occurrence.txt").decode()
    row = next(line.split("\t") for line in occurrences.splitlines() if threatened in line)
    assert "5.15" in row and "25.65" in row and any("0.1° grid cell" in cell for cell in row)
    assert "5.123456" not in occurrences and "25.654321" not in occurrences
    assert bob.get(f"/api/v1/observations/{threatened}/").data["location"]["latitude"] == 5.123456
    assert alice.get(f"/api/v1/observations/{threatened}/").status_code == 404
    assert Observation.objects.count() == 2
