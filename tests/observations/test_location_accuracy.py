"""Location accuracy end to end: accuracy_m from the form, GPSHPositioningError from a real photo's
EXIF, shown in the result's location, refused when it is not a positive number of metres, and
added to the generalisation cell on public surfaces."""

import io

import piexif
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from observations.exif import read_photo_metadata
from observations.geoprivacy import generalise
from observations.models import Observation
from tests.conftest import shared_path
from tests.factories import UserFactory, jpeg_bytes, region

pytestmark = pytest.mark.django_db
ELEPHANTS = ("photos", "speciesnet_test_images", "african_elephants.jpg")


@pytest.fixture
def client():
    region("AAA", "country", (0, 0, 10, 10), name="Aland")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=UserFactory(username='alice')).key}")
    return api


def upload(client, data=None, **fields):
    photo = SimpleUploadedFile("p.jpg", data if data is not None else jpeg_bytes(), content_type="image/jpeg")
    return client.post("/api/v1/observations/", {"photo": photo, **fields}, format="multipart")


def with_gps(photo: bytes, lat: float, lon: float, error_m: tuple[int, int] | None) -> bytes:
    """`photo` with a GPS IFD (and a GPSHPositioningError if given), the way a phone writes it."""
    gps = {
        piexif.GPSIFD.GPSLatitudeRef: b"N",
        piexif.GPSIFD.GPSLatitude: ((int(lat), 1), (int(lat % 1 * 60), 1), (0, 1)),
        piexif.GPSIFD.GPSLongitudeRef: b"E",
        piexif.GPSIFD.GPSLongitude: ((int(lon), 1), (int(lon % 1 * 60), 1), (0, 1)),
    }
    if error_m is not None:
        gps[piexif.GPSIFD.GPSHPositioningError] = error_m
    out = io.BytesIO()
    piexif.insert(piexif.dump({"0th": {}, "Exif": {}, "GPS": gps}), photo, out)
    return out.getvalue()


def test_form_accuracy_is_stored_and_shown_in_the_result(client):
    response = upload(client, latitude=5, longitude=5, accuracy_m="12.5")
    assert response.status_code == 202, response.data
    assert response.data["location"]["accuracy_m"] == 12.5 and response.data["location"]["source"] == "client"
    assert Observation.objects.get().accuracy_m == 12.5


def test_no_accuracy_means_unknown_not_zero(client):
    response = upload(client, latitude=5, longitude=5)
    assert response.status_code == 202 and response.data["location"]["accuracy_m"] is None


@pytest.mark.parametrize("bad", ["0", "-3", "nan", "1e309", "abc", "20037510"])
def test_accuracy_that_is_not_a_positive_distance_is_refused(client, bad):
    response = upload(client, latitude=5, longitude=5, accuracy_m=bad)
    assert response.status_code == 400 and "accuracy_m" in response.data["error"]["fields"]
    assert not Observation.objects.exists()


def test_accuracy_without_coordinates_is_refused(client):
    # The form's accuracy describes the form's position; alone it would be pinned to the EXIF's.
    response = upload(client, accuracy_m="8")
    assert response.status_code == 400 and "accuracy_m" in response.data["error"]["fields"]


def test_exif_positioning_error_of_a_real_photo_becomes_the_accuracy(client):
    photo = with_gps(shared_path(*ELEPHANTS).read_bytes(), 4.5, 6.25, (65, 10))
    response = upload(client, data=photo)
    assert response.status_code == 202, response.data
    assert response.data["location"]["source"] == "exif" and response.data["location"]["accuracy_m"] == 6.5


def test_form_position_keeps_its_own_accuracy_over_the_exif(client):
    photo = with_gps(shared_path(*ELEPHANTS).read_bytes(), 4.5, 6.25, (65, 10))
    response = upload(client, data=photo, latitude=4.5, longitude=6.25, accuracy_m="30")
    assert response.data["location"]["source"] == "client" and response.data["location"]["accuracy_m"] == 30


def test_exif_positioning_error_zero_or_broken_is_flagged_and_unknown():
    photo = with_gps(jpeg_bytes(), 4.5, 6.25, (0, 1))
    meta = read_photo_metadata(photo)
    assert meta.latitude == 4.5 and meta.accuracy_m is None and "exif_gps_error_invalid" in meta.flags
    broken = read_photo_metadata(with_gps(jpeg_bytes(), 4.5, 6.25, (5, 0)))
    assert broken.accuracy_m is None and "exif_gps_error_invalid" in broken.flags
    assert read_photo_metadata(with_gps(jpeg_bytes(), 4.5, 6.25, None)).accuracy_m is None


def test_generalisation_adds_the_cell_to_the_devices_accuracy():
    exact = generalise(7.123, 2.456, "none", 12.0)
    assert exact.coordinate_uncertainty_m == 12.0  # open record: the device's own figure
    cell_only = generalise(7.123, 2.456, "0.1", None).coordinate_uncertainty_m
    assert cell_only == 7872  # half the diagonal of a 0.1° cell at the equator
    assert generalise(7.123, 2.456, "0.1", 40.0).coordinate_uncertainty_m == cell_only + 40
    assert generalise(7.123, 2.456, "withhold", 40.0).coordinate_uncertainty_m is None
