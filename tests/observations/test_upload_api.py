"""Upload validation and the classify service, through the API (pytest-django, tiny model)."""

import io

import piexif
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from classifier.services import model_version_register
from observations.classification import observation_classify
from observations.models import Observation, Prediction
from tests.factories import TaxonFactory, UserFactory, contact, jpeg_bytes, region, status

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tiny_artifact):
    """Country AAA (0..10) where Testus nativus is native and Testus invasor invasive, with a contact."""
    aaa = region("AAA", "country", (0, 0, 10, 10), name="Aland")
    status(TaxonFactory(scientific_name="Testus nativus"), aaa, "native")
    status(TaxonFactory(scientific_name="Testus invasor"), aaa, "invasive")
    contact(aaa, "Aland Invasive Species Hotline", "invasive_species_hotline")
    model_version_register(path=tiny_artifact, activate=True)
    return aaa


@pytest.fixture
def client():
    user = UserFactory(username="alice")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    api.user = user
    return api


def upload(client, data=None, name="p.jpg", headers=None, query="", **fields):
    photo = SimpleUploadedFile(name, data if data is not None else jpeg_bytes(), content_type="image/jpeg")
    return client.post(
        f"/api/v1/observations/{query}", {"photo": photo, **fields}, format="multipart", headers=headers or {}
    )


def test_upload_accepted_then_classified(client, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = upload(client, latitude=5, longitude=5)
    assert response.status_code == 202
    assert response["Retry-After"] and response["Location"].endswith(f"/api/v1/observations/{response.data['id']}/")
    assert response.data["status"] == "queued"
    assert len(callbacks) == 1  # enqueued once, after commit
    observation = Observation.objects.get()
    assert observation_classify(observation_id=observation.pk) == "done"

    result = client.get(f"/api/v1/observations/{observation.uuid}/").data
    assert result["status"] == "done" and result["model_version"] == "tiny-test"
    assert result["predictions"][0]["key"] == "Testus nativus"
    assert result["identification"]["taxon"]["scientific_name"] == "Testus nativus"
    assert result["verdict"]["status"] == "native" and result["verdict"]["region"]["code"] == "AAA"
    assert result["alert"] is None


def test_classify_is_idempotent(client, world):
    upload(client, latitude=5, longitude=5)
    observation = Observation.objects.get()
    observation_classify(observation_id=observation.pk)
    observation_classify(observation_id=observation.pk)  # a redelivered task
    assert Prediction.objects.count() == 1


def test_out_of_range_alert_carries_contacts(client, world):
    bbb = region("BBB", "country", (20, 0, 30, 10), name="Bland")
    contact(bbb, "Bland Wildlife Agency")
    upload(client, latitude=5, longitude=25)
    observation_classify(observation_id=Observation.objects.get().pk)
    result = client.get(f"/api/v1/observations/{Observation.objects.get().uuid}/").data
    assert result["verdict"]["status"] == "out_of_range"
    assert result["alert"]["level"] == "alert"
    assert [c["organisation"] for c in result["alert"]["contacts"]] == ["Bland Wildlife Agency"]


def test_r01_truncated_jpeg_fails_typed(client, world):
    data = jpeg_bytes(size=(400, 300))
    response = upload(client, data=data[: len(data) // 2], latitude=5, longitude=5)
    assert response.status_code == 202  # the header is fine; the worker finds the damage
    observation = Observation.objects.get()
    assert observation_classify(observation_id=observation.pk) == "failed"
    result = client.get(f"/api/v1/observations/{observation.uuid}/").data
    assert result["failure"]["code"] == "image_corrupt" and result["predictions"] == []


@pytest.mark.parametrize(
    "payload,code",
    [
        (b"random bytes, not an image" * 20, "unsupported_format"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "unsupported_format"),
    ],
)
def test_r04_not_an_image_is_400(client, world, payload, code):
    response = upload(client, data=payload, latitude=5, longitude=5)
    assert response.status_code == 400 and response.data["error"]["code"] == code
    assert Observation.objects.count() == 0


@pytest.mark.parametrize(
    "fields,bad_field",
    [
        ({"latitude": 91, "longitude": 0}, "latitude"),
        ({"latitude": 0, "longitude": 181}, "longitude"),
        ({"latitude": "NaN", "longitude": 0}, "latitude"),
        ({"latitude": "1e309", "longitude": 0}, "latitude"),
        ({"latitude": 10}, "longitude"),
    ],
)
def test_r07_bad_coordinates_are_field_errors(client, world, fields, bad_field):
    response = upload(client, **fields)
    assert response.status_code == 400
    assert bad_field in response.data["error"]["fields"]


def test_r07_edge_coordinates_accepted(client, world):
    assert upload(client, latitude=90, longitude=-180).status_code == 202


def test_missing_location_without_exif_is_bad_location(client, world):
    response = upload(client)
    assert response.status_code == 400 and response.data["error"]["code"] == "bad_location"


def _gps_exif(lat, lon, zero_denominator=False):
    def dms(value):
        value = abs(value)
        d = int(value)
        m = int((value - d) * 60)
        s = round(((value - d) * 60 - m) * 60 * 100)
        return ((d, 1), (m, 1), (s, 0 if zero_denominator else 100))

    gps = {
        piexif.GPSIFD.GPSLatitudeRef: b"N" if lat >= 0 else b"S",
        piexif.GPSIFD.GPSLatitude: dms(lat),
        piexif.GPSIFD.GPSLongitudeRef: b"E" if lon >= 0 else b"W",
        piexif.GPSIFD.GPSLongitude: dms(lon),
    }
    return piexif.dump({"0th": {}, "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2024:05:01 10:20:30"}, "GPS": gps})


def test_location_from_exif_gps(client, world):
    response = upload(client, data=jpeg_bytes(exif=_gps_exif(4.5, 6.25)))
    assert response.status_code == 202
    observation = Observation.objects.get()
    assert observation.location_source == "exif"
    assert abs(observation.latitude - 4.5) < 1e-3 and abs(observation.longitude - 6.25) < 1e-3
    assert observation.observed_at.year == 2024


def test_r08_exif_zero_denominator_and_disagreement_flagged(client, world):
    bad = upload(client, data=jpeg_bytes(exif=_gps_exif(4.5, 6.25, zero_denominator=True)))
    assert bad.status_code == 400 and bad.data["error"]["code"] == "bad_location"
    ok = upload(client, data=jpeg_bytes(exif=_gps_exif(4.5, 6.25)), latitude=1, longitude=1)
    assert ok.status_code == 202
    assert ok.data["location"]["source"] == "client" and "exif_location_disagrees" in ok.data["location"]["flags"]


def test_r09_future_date_refused(client, world):
    response = upload(client, latitude=5, longitude=5, observed_at="2999-01-01T00:00:00Z")
    assert response.status_code == 400 and "observed_at" in response.data["error"]["fields"]


def test_r10_idempotency_key_gives_one_row(client, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        first = upload(client, latitude=5, longitude=5, headers={"Idempotency-Key": "abc-123"})
        second = upload(client, latitude=5, longitude=5, headers={"Idempotency-Key": "abc-123"})
    assert first.data["id"] == second.data["id"]
    assert Observation.objects.count() == 1 and len(callbacks) == 1


def test_r05_hostile_file_name_not_used(client, world):
    upload(client, name="../../etc/x.php.jpg", latitude=5, longitude=5)
    stored = Observation.objects.get().photo.name
    assert ".." not in stored and "php" not in stored and stored.startswith("photos/")


def test_r11_other_users_observation_is_404(client, world):
    upload(client, latitude=5, longitude=5)
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=UserFactory(username='bob')).key}")
    assert other.get(f"/api/v1/observations/{Observation.objects.get().uuid}/").status_code == 404


def test_r12_anonymous_upload_is_401(world):
    response = APIClient().post("/api/v1/observations/", {"photo": io.BytesIO(jpeg_bytes())}, format="multipart")
    assert response.status_code == 401 and "WWW-Authenticate" in response


def test_check_endpoint_and_unknown_taxon(world):
    api = APIClient()
    answer = api.get("/api/v1/check/", {"lat": 5, "lon": 5, "taxon": "testus_invasor"}).data
    assert answer["verdict"]["status"] == "invasive"
    assert answer["alert"]["contacts"][0]["organisation"] == "Aland Invasive Species Hotline"
    assert api.get("/api/v1/check/", {"lat": 5, "lon": 5, "taxon": "Nonexistus"}).status_code == 404
    assert api.get("/api/v1/check/", {"lat": 95, "lon": 5, "taxon": "Testus nativus"}).status_code == 400


def test_region_lookup_and_health(world):
    api = APIClient()
    lookup = api.get("/api/v1/regions/lookup/", {"lat": 5, "lon": 5}).data
    assert lookup["regions"][0]["code"] == "AAA" and lookup["contacts"]
    assert api.get("/healthz").json()["status"] == "ok"


def test_openapi_schema_and_offline_docs():
    api = APIClient()
    schema = api.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200 and "/api/v1/observations/" in schema.json()["paths"]
    docs = api.get("/api/docs/")
    assert docs.status_code == 200 and b"cdn" not in docs.content.lower()
