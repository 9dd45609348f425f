"""Served photos: the EXIF-stripped derivative (never the original), built once by the worker right
after classification, read (never decoded) by the web; and signed links for alerts."""

from __future__ import annotations

from http import HTTPStatus

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from core.errors import NotFound, ServiceError
from ml.images import ImageError, served_jpeg
from observations.models import Geoprivacy, Observation, Verification

DERIVATIVE_MAX_SIDE = 2048
_SALT = "observations.photo-link"


class PhotoNotReady(ServiceError):
    """The served copy is made when the classification finishes: ask again after it (425 Too Early)."""

    status = HTTPStatus.TOO_EARLY
    code = "photo_not_ready"


def derivative_key(observation: Observation) -> str:
    return f"derivatives/{observation.uuid.hex[:2]}/{observation.uuid.hex}.jpg"


def photo_derivative_build(*, observation: Observation, data: bytes) -> str:
    """Encode and store the served copy from the original's bytes (in the worker, right after the
    model read them: same decode budget, same RGB). Rebuilding overwrites; it never leaves a second
    file. Raises ml.images.ImageError for a photo that cannot be decoded. Returns the storage key."""
    jpeg = served_jpeg(data, max_side=DERIVATIVE_MAX_SIDE, max_pixels=settings.RANGEWATCH_MAX_IMAGE_PIXELS)
    key = derivative_key(observation)
    if default_storage.exists(key):  # a redelivered job: storages rename rather than overwrite
        default_storage.delete(key)
    saved = default_storage.save(key, ContentFile(jpeg))
    if saved != key:  # another delivery of the same job saved it first: keep one file
        default_storage.delete(saved)
    return key


def photo_derivatives_backfill(*, dry_run: bool = False) -> tuple[int, int]:
    """Build the served copy of every finished observation that has none (records classified before
    the worker built them). Returns (missing, built); a photo that cannot be decoded is skipped."""
    missing = built = 0
    finished = Observation.objects.filter(status=Observation.Status.DONE).only("id", "uuid", "photo")
    for observation in finished.iterator():
        if default_storage.exists(derivative_key(observation)):
            continue
        missing += 1
        if dry_run:
            continue
        try:
            with observation.photo.open("rb") as fh:
                photo_derivative_build(observation=observation, data=fh.read())
            built += 1
        except (ImageError, OSError):
            continue
    return missing, built


def photo_derivative(*, observation: Observation) -> bytes:
    """The stored served copy. Not made yet (queued, processing): PhotoNotReady; a photo that could
    not be read (failed) or a record older than this rule: NotFound."""
    if observation.status in (Observation.Status.QUEUED, Observation.Status.PROCESSING):
        raise PhotoNotReady("the photo is served once its classification has finished; ask again then")
    try:
        with default_storage.open(derivative_key(observation), "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        reason = f" ({observation.failure_code})" if observation.failure_code else ""
        raise NotFound(f"this observation has no served photo{reason}") from None


def photo_link(*, observation: Observation) -> str:
    """An absolute link to the derivative that works without an account for a while (contacts)."""
    token = signing.dumps(observation.uuid.hex, salt=_SALT)
    return (
        f"{settings.RANGEWATCH_PUBLIC_BASE_URL.rstrip('/')}/api/v1/observations/{observation.uuid}/photo/?sig={token}"
    )


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
    # The record's state when the link is used, not when it was signed (issue 23, Low): a link in an
    # old alert stops working once the observer makes the record private or a reviewer rejects it.
    if observation.geoprivacy == Geoprivacy.PRIVATE or observation.verification == Verification.REJECTED:
        raise NotFound("this photo is no longer shared by link")
    return observation
