"""The served photo: an EXIF-stripped derivative, never the original (docs/reliability.md R6); signed links."""

import io

import piexif
import pytest
from django.core.files.base import ContentFile
from PIL import Image
from rest_framework.test import APIClient

from observations.photos import photo_derivative_build, photo_link
from tests.factories import jpeg_bytes
from tests.world import api_for, classified

pytestmark = pytest.mark.django_db


def _exif_with_gps_and_serial():
    return piexif.dump(
        {
            "0th": {piexif.ImageIFD.Make: b"Cam"},
            "Exif": {piexif.ExifIFD.BodySerialNumber: b"SN-123456"},
            "GPS": {piexif.GPSIFD.GPSLatitudeRef: b"N", piexif.GPSIFD.GPSLatitude: ((7, 1), (0, 1), (0, 1))},
        }
    )


def test_r06_served_photo_has_no_exif_and_signed_link_works(users, geo, model_version):
    observation = classified(users["alice"], 7, 2, [("Testus nativus", 0.9)], model_version)
    original = jpeg_bytes(size=(80, 60), exif=_exif_with_gps_and_serial())
    observation.photo.save("upload", ContentFile(original), save=True)
    photo_derivative_build(observation=observation, data=original)  # what the worker does after classifying
    response = api_for(users["alice"]).get(f"/api/v1/observations/{observation.uuid}/photo/")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    served = response.content
    assert b"SN-123456" not in served and b"Exif" not in served
    image = Image.open(io.BytesIO(served))
    assert not image.getexif() and image.size == (80, 60)
    assert (
        api_for(users["bob"]).get(f"/api/v1/observations/{observation.uuid}/photo/").status_code == 200
    )  # in the public feed
    link = photo_link(observation=observation)
    signed = APIClient().get(link[link.index("/api/") :])
    assert signed.status_code == 200 and signed.content == served
    assert APIClient().get(f"/api/v1/observations/{observation.uuid}/photo/?sig=forged").status_code == 404


def test_low_signed_photo_link_stops_working_when_the_record_turns_private_or_is_rejected(users, geo, model_version):
    """Issue 23, Low: a signed link (from an alert) still served the photo after the observer made
    the record private or a reviewer rejected it. The record's state is checked when the link is used."""
    from observations.models import Observation

    observation = classified(users["alice"], 7, 2, [("Testus nativus", 0.9)], model_version)
    data = jpeg_bytes(size=(80, 60))
    observation.photo.save("upload", ContentFile(data), save=True)
    photo_derivative_build(observation=observation, data=data)
    link = photo_link(observation=observation)
    path = link[link.index("/api/") :]
    assert APIClient().get(path).status_code == 200

    Observation.objects.filter(pk=observation.pk).update(geoprivacy="private")
    assert APIClient().get(path).status_code == 404
    assert api_for(users["alice"]).get(f"/api/v1/observations/{observation.uuid}/photo/").status_code == 200  # owner

    Observation.objects.filter(pk=observation.pk).update(geoprivacy="obscured")
    assert APIClient().get(path).status_code == 200
    Observation.objects.filter(pk=observation.pk).update(verification="rejected")
    answer = APIClient().get(path)
    assert answer.status_code == 404 and "no longer shared" in answer.json()["error"]["detail"]
