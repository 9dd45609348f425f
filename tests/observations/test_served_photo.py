"""The served photo is built once, by the classification step, with the model's RGB; the web only
reads it (docs/reliability.md, "Worker faults and memory" W2, W4, W5)."""

import io
import struct

import numpy as np
import PIL.Image
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from classifier.services import model_version_register
from observations import tasks
from observations.photos import derivative_key
from observations.services import observation_create
from tests.factories import TaxonFactory, jpeg_bytes, region, status
from tests.world import api_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tiny_artifact):
    status(TaxonFactory(scientific_name="Testus nativus"), region("AAA", "country", (0, 0, 10, 10)), "native")
    model_version_register(path=tiny_artifact, activate=True)


def upload(user, data: bytes, name="p.png"):
    photo = SimpleUploadedFile(name, data, content_type="image/png")
    return observation_create(owner=user, photo=photo, latitude=5, longitude=5).observation


def classify(observation):
    tasks.classify_observation.apply(args=[observation.pk])
    observation.refresh_from_db()
    return observation


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def test_w2_served_copy_is_built_by_the_classification_and_the_request_only_reads_it(users, world, monkeypatch):
    alice = api_for(users["alice"])
    observation = upload(users["alice"], jpeg_bytes(size=(3000, 2000)))
    url = f"/api/v1/observations/{observation.uuid}/photo/"
    not_ready = alice.get(url)
    assert not_ready.status_code == 425 and not_ready.json()["error"]["code"] == "photo_not_ready"
    assert not default_storage.exists(derivative_key(observation))

    assert classify(observation).status == "done"
    assert default_storage.exists(derivative_key(observation))

    def no_decoding_in_the_web(*args, **kwargs):
        raise AssertionError("a web request decoded a photo")

    monkeypatch.setattr(PIL.Image, "open", no_decoding_in_the_web)
    served = alice.get(url)
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    monkeypatch.undo()
    assert Image.open(io.BytesIO(served.content)).size == (2048, 1365)  # built bounded, in the worker


def _header_only_bmp(width=4000, height=3000) -> bytes:
    """A BMP whose header promises 4000x3000 24-bit pixels and whose file ends right after it."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info), 0, 0, 14 + len(info)) + info


def test_w4_header_only_bmp_ends_image_corrupt_and_its_photo_is_404_not_500(users, world):
    observation = classify(upload(users["alice"], _header_only_bmp(), name="x.bmp"))
    assert observation.status == "failed" and observation.failure_code == "image_corrupt"
    response = api_for(users["alice"]).get(f"/api/v1/observations/{observation.uuid}/photo/")
    assert response.status_code == 404
    assert "image_corrupt" in response.json()["error"]["detail"]


def test_w5_sixteen_bit_png_is_not_served_white_and_transparent_pixels_stay_hidden(users, world):
    alice = api_for(users["alice"])
    ramp = Image.fromarray(np.arange(128 * 128, dtype=np.uint16).reshape(128, 128) * 4)  # 0..65532
    hidden = Image.new("RGBA", (128, 128), (255, 0, 0, 0))  # a red the owner made transparent
    hidden.paste((0, 0, 255, 255), (0, 0, 64, 128))
    served = {}
    for name, image in (("ramp", ramp), ("hidden", hidden)):
        observation = classify(upload(users["alice"], png(image)))
        assert observation.status == "done", observation.failure_detail
        response = alice.get(f"/api/v1/observations/{observation.uuid}/photo/")
        assert response.status_code == 200
        served[name] = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"), dtype=int)
    grey = served["ramp"][..., 0]
    assert grey.min() < 20 and grey.max() > 230  # scaled like the model's input, not clipped to white
    right = served["hidden"][:, 72:]
    assert right.min() >= 240  # transparent: composited over white, the red never shows
    assert (served["hidden"][..., 0] - served["hidden"][..., 1]).max() < 40  # no reddish pixel anywhere


def test_w2_records_classified_before_the_upgrade_get_their_served_copy_from_the_backfill(users, geo, model_version):
    from django.core.files.storage import default_storage
    from django.core.management import call_command

    from observations.photos import derivative_key
    from tests.world import classified

    old = classified(users["alice"], 7, 2, [("Testus nativus", 0.9)], model_version)
    default_storage.delete(derivative_key(old))  # as classified before the worker built served copies
    url = f"/api/v1/observations/{old.uuid}/photo/"
    assert api_for(users["alice"]).get(url).status_code == 404
    out = io.StringIO()
    call_command("build_photo_derivatives", "--dry-run", stdout=out)
    assert "1 finished observations had no served photo; built 0" in out.getvalue()
    call_command("build_photo_derivatives", stdout=out)
    assert api_for(users["alice"]).get(url).status_code == 200
