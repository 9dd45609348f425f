"""What an outside attack found at upload (issue 15, Medium 14 and Low): geoprivacy sent with the
upload ignored, an idempotency key reused for another photo, keys cut at 200 characters,
implausible dates from the form or the EXIF."""

import piexif
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from classifier.services import model_version_register
from observations.classification import observation_classify
from observations.models import Observation
from tests.factories import TaxonFactory, UserFactory, jpeg_bytes, region, status
from tests.world import api_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tiny_artifact):
    aaa = region("AAA", "country", (0, 0, 10, 10), name="Aland")
    status(TaxonFactory(scientific_name="Testus nativus"), aaa, "native")
    model_version_register(path=tiny_artifact, activate=True)
    return aaa


@pytest.fixture
def alice():
    return api_for(UserFactory(username="alice"))


def upload(client, data=None, headers=None, **fields):
    photo = SimpleUploadedFile("p.jpg", data if data is not None else jpeg_bytes(), content_type="image/jpeg")
    return client.post("/api/v1/observations/", {"photo": photo, **fields}, format="multipart", headers=headers or {})


@pytest.mark.parametrize("choice, public_latitude", [("private", None), ("obscured", 5.25), ("open", 5.2345)])
def test_medium14_geoprivacy_sent_with_the_upload_applies_from_the_start(alice, world, choice, public_latitude):
    response = upload(alice, latitude=5.2345, longitude=5.6789, geoprivacy=choice)
    assert response.status_code == 202
    observation = Observation.objects.get()
    assert observation.geoprivacy == choice
    assert observation_classify(observation_id=observation.pk) == "done"
    public = APIClient().get(f"/api/v1/feed/{observation.uuid}/").json()["location"]
    assert public["latitude"] == public_latitude


def test_medium14_unknown_geoprivacy_is_a_field_error(alice, world):
    response = upload(alice, latitude=5, longitude=5, geoprivacy="secret")
    assert response.status_code == 400 and "geoprivacy" in response.json()["error"]["fields"]


def test_low_idempotency_key_reused_with_another_photo_is_409(alice, world):
    first = upload(alice, latitude=5, longitude=5, headers={"Idempotency-Key": "k-1"})
    retry = upload(alice, latitude=5, longitude=5, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == retry.status_code == 202 and first.json()["id"] == retry.json()["id"]
    other = upload(
        alice, data=jpeg_bytes(color=(10, 200, 10)), latitude=5, longitude=5, headers={"Idempotency-Key": "k-1"}
    )
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert Observation.objects.count() == 1


def test_low_idempotency_key_over_200_characters_is_refused_not_cut(alice, world):
    upload(alice, latitude=5, longitude=5, headers={"Idempotency-Key": "k" * 200})
    longer = upload(
        alice, data=jpeg_bytes(color=(10, 200, 10)), latitude=5, longitude=5, headers={"Idempotency-Key": "k" * 201}
    )
    assert longer.status_code == 400 and "Idempotency-Key" in longer.json()["error"]["fields"]
    assert Observation.objects.count() == 1


@pytest.mark.parametrize(
    "value", ["0001-01-01", "0001-01-01T00:00:00+05:00", "1899-12-31T23:59:59Z", "9999-12-31T23:59:59-05:00"]
)
def test_low_implausible_observed_at_is_refused(alice, world, value):
    response = upload(alice, latitude=5, longitude=5, observed_at=value)
    assert response.status_code == 400 and "observed_at" in response.json()["error"]["fields"]


def test_low_exif_year_9999_does_not_skip_the_future_date_check(alice, world):
    exif = piexif.dump({"0th": {}, "Exif": {piexif.ExifIFD.DateTimeOriginal: b"9999:12:31 10:20:30"}})
    response = upload(alice, data=jpeg_bytes(exif=exif), latitude=5, longitude=5)
    assert response.status_code == 202
    assert response.json()["observed_at"] is None and "exif_date_implausible" in response.json()["location"]["flags"]
    good = piexif.dump({"0th": {}, "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2024:05:01 10:20:30"}})
    assert (
        upload(alice, data=jpeg_bytes(exif=good), latitude=5, longitude=5)
        .json()["observed_at"]
        .startswith("2024-05-01")
    )
