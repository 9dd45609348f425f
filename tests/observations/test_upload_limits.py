"""Body cap enforced while streaming (docs/reliability.md R3, R9) and upload throttling (R13)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from observations.models import Observation
from tests.factories import UserFactory, jpeg_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=UserFactory(username='carol')).key}")
    return api


def test_r03_declared_body_over_cap_is_413_naming_the_limit(client, settings, tmp_path):
    settings.RANGEWATCH_MAX_UPLOAD_BYTES = 100_000
    big = SimpleUploadedFile("big.jpg", b"\xff" * 300_000, content_type="image/jpeg")
    response = client.post("/api/v1/observations/", {"photo": big, "latitude": 1, "longitude": 1}, format="multipart")
    assert response.status_code == 413
    assert "100000 bytes" in response.json()["error"]["detail"]
    assert Observation.objects.count() == 0
    assert not (tmp_path / "media").exists() or not any((tmp_path / "media").rglob("*"))


def test_r03_streamed_body_over_cap_stops_in_the_upload_handler(client, settings):
    settings.RANGEWATCH_MAX_UPLOAD_BYTES = 100_000
    # Body within the middleware's allowance for form fields, file over the cap: the handler
    # counts the bytes as they stream and stops before anything reaches storage.
    big = SimpleUploadedFile("big.jpg", b"\xff" * 150_000, content_type="image/jpeg")
    response = client.post("/api/v1/observations/", {"photo": big, "latitude": 1, "longitude": 1}, format="multipart")
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    assert Observation.objects.count() == 0


def test_r09_too_many_files_and_missing_boundary_are_400(client):
    files = {f"photo{i}": SimpleUploadedFile(f"{i}.jpg", jpeg_bytes(), content_type="image/jpeg") for i in range(8)}
    too_many = client.post("/api/v1/observations/", {**files, "latitude": 1, "longitude": 1}, format="multipart")
    assert too_many.status_code == 400
    no_boundary = client.generic(
        "POST", "/api/v1/observations/", b"--x\r\nnonsense", content_type="multipart/form-data"
    )
    assert no_boundary.status_code == 400
    assert Observation.objects.count() == 0


def test_r09_missing_photo_is_field_error(client):
    response = client.post("/api/v1/observations/", {"latitude": 1, "longitude": 1}, format="multipart")
    assert response.status_code == 400 and "photo" in response.json()["error"]["fields"]
