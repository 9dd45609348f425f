"""Location accuracy from upload to archive: real photos uploaded through the API (one with the
browser's accuracy_m, one located by its EXIF with GPSHPositioningError), classified by a tiny
model, reviewed through the API, exported through the API and read back with python-dwca-reader."""

import io
from urllib.parse import urlsplit

import piexif
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from classifier.services import model_version_register
from observations.classification import observation_classify
from observations.models import Observation
from tests.community.gbif_rules import DC, gbif_offline_problems, read_archive
from tests.conftest import shared_path
from tests.world import api_for

pytestmark = pytest.mark.django_db
ELEPHANTS = ("photos", "speciesnet_test_images", "african_elephants.jpg")


def phone_photo_with_gps(photo: bytes, lat_deg: int, lon_deg: int, error_m: int) -> bytes:
    gps = {
        piexif.GPSIFD.GPSLatitudeRef: b"N",
        piexif.GPSIFD.GPSLatitude: ((lat_deg, 1), (30, 1), (0, 1)),
        piexif.GPSIFD.GPSLongitudeRef: b"E",
        piexif.GPSIFD.GPSLongitude: ((lon_deg, 1), (15, 1), (0, 1)),
        piexif.GPSIFD.GPSHPositioningError: (error_m, 1),
    }
    out = io.BytesIO()
    piexif.insert(piexif.dump({"0th": {}, "Exif": {}, "GPS": gps}), photo, out)
    return out.getvalue()


def upload(client, photo: bytes, **fields):
    file = SimpleUploadedFile("elephants.jpg", photo, content_type="image/jpeg")
    response = client.post("/api/v1/observations/", {"photo": file, **fields}, format="multipart")
    assert response.status_code == 202, response.data
    observation = Observation.objects.get(uuid=response.data["id"])
    assert observation_classify(observation_id=observation.pk) == "done"
    return observation


def test_accuracy_from_the_browser_and_from_exif_reaches_the_archive(
    settings, users, geo, tiny_artifact, tmp_path, eager_celery, django_capture_on_commit_callbacks
):
    settings.RANGEWATCH_PUBLIC_BASE_URL = "https://rangewatch.example.org"
    settings.RANGEWATCH_DWCA_CONTACT_EMAIL = "records@aland.example.org"
    model_version_register(path=tiny_artifact, activate=True)
    photo = shared_path(*ELEPHANTS).read_bytes()
    alice, bob, rita = api_for(users["alice"]), api_for(users["bob"]), api_for(users["rita"])

    from_browser = upload(alice, photo, latitude=7, longitude=2, accuracy_m="6.2")
    from_exif = upload(bob, phone_photo_with_gps(photo, 6, 3, 12))
    result = alice.get(f"/api/v1/observations/{from_browser.uuid}/").data
    assert result["location"]["accuracy_m"] == 6.2 and result["verdict"]["status"] == "native"
    assert bob.get(f"/api/v1/observations/{from_exif.uuid}/").data["location"] == {
        "latitude": 6.5,
        "longitude": 3.25,
        "accuracy_m": 12.0,
        "source": "exif",
        "flags": [],
    }

    # The review round: the reviewer corrects the model's native call to the invader.
    review = rita.post(
        f"/api/v1/observations/{from_browser.uuid}/review/", {"decision": "confirm", "taxon": "Testus invasor"}
    )
    assert review.status_code == 200, review.data

    with django_capture_on_commit_callbacks(execute=True):  # the export job runs (eagerly) after commit
        started = rita.post("/api/v1/exports/dwca/", {}, format="json")
    assert started.status_code == 202
    download = rita.get(rita.get(started["Location"]).data["download"])
    assert download.status_code == 200
    (tmp_path / "dwca.zip").write_bytes(b"".join(download.streaming_content))
    rows, _ = read_archive(tmp_path / "dwca.zip")
    assert gbif_offline_problems(rows) == []
    browser_row, media = rows[f"urn:uuid:{from_browser.uuid}"]
    exif_row, _ = rows[f"urn:uuid:{from_exif.uuid}"]
    assert (browser_row["coordinateUncertaintyInMeters"], exif_row["coordinateUncertaintyInMeters"]) == ("7", "12")
    assert (browser_row["scientificName"], browser_row["basisOfRecord"]) == ("Testus invasor", "HumanObservation")
    assert (browser_row["establishmentMeans"], browser_row["degreeOfEstablishment"]) == ("introduced", "invasive")
    assert (exif_row["decimalLatitude"], exif_row["decimalLongitude"], exif_row["basisOfRecord"]) == (
        "6.5",
        "3.25",
        "MachineObservation",
    )

    # Its photo link gives anyone the real photo, re-encoded without EXIF.
    link = urlsplit(media[0][DC + "identifier"])
    served = APIClient().get(f"{link.path}?{link.query}")
    assert served.status_code == 200
    with Image.open(io.BytesIO(served.content)) as image, Image.open(io.BytesIO(photo)) as original:
        assert image.format == "JPEG" and image.size == original.size and not image.getexif()
