"""Served photos: an EXIF-stripped derivative (never the original), and signed links for alerts."""
from __future__ import annotations

import io

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageOps

from backend.errors import NotFound
from observations.models import Observation

DERIVATIVE_MAX_SIDE = 2048
_SALT = "observations.photo-link"


def derivative_key(observation: Observation) -> str:
    return f"derivatives/{observation.uuid.hex[:2]}/{observation.uuid.hex}.jpg"


def photo_derivative(*, observation: Observation) -> bytes:
    """JPEG re-encoded by Pillow without EXIF/XMP/ICC text (no GPS, no camera serial); made once."""
    key = derivative_key(observation)
    if default_storage.exists(key):
        with default_storage.open(key, "rb") as fh:
            return fh.read()
    Image.MAX_IMAGE_PIXELS = settings.RANGEWATCH_MAX_IMAGE_PIXELS
    with observation.photo.open("rb") as fh:
        image = Image.open(fh)
        image.draft("RGB", (DERIVATIVE_MAX_SIDE, DERIVATIVE_MAX_SIDE))
        image = ImageOps.exif_transpose(image).convert("RGB")
    image.thumbnail((DERIVATIVE_MAX_SIDE, DERIVATIVE_MAX_SIDE))
    # A fresh image from the pixels only: nothing of the original's metadata can ride along.
    clean = Image.frombytes("RGB", image.size, image.tobytes())
    buf = io.BytesIO()
    clean.save(buf, "JPEG", quality=85)
    data = buf.getvalue()
    default_storage.save(key, ContentFile(data))
    return data


def photo_link(*, observation: Observation) -> str:
    """An absolute link to the derivative that works without an account for a while (contacts)."""
    token = signing.dumps(observation.uuid.hex, salt=_SALT)
    return f"{settings.RANGEWATCH_PUBLIC_BASE_URL.rstrip('/')}/api/v1/observations/{observation.uuid}/photo/?sig={token}"


def photo_link_valid(*, observation: Observation, sig: str) -> bool:
    max_age = settings.RANGEWATCH_PHOTO_LINK_MAX_AGE_DAYS * 86400
    try:
        return signing.loads(sig, salt=_SALT, max_age=max_age) == observation.uuid.hex
    except signing.BadSignature:
        return False


def photo_link_observation(*, observation_id, sig: str) -> Observation:
    """The observation a signed photo link names; an unknown id or a bad or expired link: 404."""
    observation = Observation.objects.filter(uuid=observation_id).first()
    if observation is None or not photo_link_valid(observation=observation, sig=sig):
        raise NotFound("no such photo, or the link expired")
    return observation
