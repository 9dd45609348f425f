"""Writes for observations: accept an upload, change its geoprivacy, delete it.
(The classification step is observations.classification.)"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, ServiceError
from ml.images import ImageError, inspect_image
from observations.exif import read_photo_metadata
from observations.models import Geoprivacy, Observation
from observations.photos import derivative_key
from observations.tasks import classify_enqueue_on_commit

log = logging.getLogger(__name__)

# When the form and the photo's EXIF disagree by more than this, the form wins and the row is flagged.
LOCATION_DISAGREEMENT_DEG = 0.5
# A plausible observation date: not before 1900 (older records are museum work, not uploads; year 1
# was accepted), not more than a day ahead (time zones and phone clocks).
EARLIEST_OBSERVED_AT = datetime(1900, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(hours=24)
# The idempotency key is stored whole: a longer one is refused, never cut (cut keys could collide).
IDEMPOTENCY_KEY_MAX_LENGTH = Observation._meta.get_field("idempotency_key").max_length


class UploadRejected(ServiceError):
    """The photo or its location cannot be accepted: `code` says why (image_corrupt, bad_location, ...)."""

    def __init__(self, code: str, detail: str, field: str = "photo"):
        super().__init__(detail, code=code, fields={field: [detail]})


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


@dataclass
class UploadResult:
    observation: Observation
    created: bool


def observed_at_problem(value: datetime) -> str | None:
    """Why `value` is not a plausible observation time, or None (the form's and the EXIF's)."""
    if value < EARLIEST_OBSERVED_AT:
        return f"observed_at is before {EARLIEST_OBSERVED_AT.year}"
    if value > timezone.now() + FUTURE_TOLERANCE:
        return "observed_at is in the future"
    return None


def _photo_sha256(file) -> str:
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    return digest.hexdigest()


def _replayed(existing: Observation, data: bytes) -> UploadResult:
    """The first upload with this key, if this is a retry of it (the same photo); a key reused
    for another photo is a client bug that must not silently answer with someone else's result."""
    with existing.photo.open("rb") as stored:
        same = _photo_sha256(stored) == hashlib.sha256(data).hexdigest()
    if not same:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used for another photo",
            fields={"Idempotency-Key": ["already used for another photo"]},
        )
    return UploadResult(existing, False)


def observation_create(
    *,
    owner,
    photo,
    latitude: float | None,
    longitude: float | None,
    accuracy_m: float | None = None,
    observed_at=None,
    idempotency_key: str = "",
    geoprivacy: str = Geoprivacy.OPEN,
    batch: bool = False,
    listed_publicly: bool = True,
    held: bool = False,
) -> UploadResult:
    """Validate the photo's header, take the location (and its accuracy) from the form or the EXIF
    GPS, save the row (with the observer's geoprivacy from the start) and enqueue classification
    after commit. A repeated Idempotency-Key with the same photo returns the first row; with another
    photo, 409. `batch` (a camera-trap card, an import) classifies it behind interactive uploads."""
    if len(idempotency_key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        detail = f"at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters"
        raise ServiceError(f"Idempotency-Key is too long ({detail})", fields={"Idempotency-Key": [detail]})
    data = photo.read()
    photo.seek(0)
    if idempotency_key:
        existing = Observation.objects.filter(owner=owner, idempotency_key=idempotency_key).first()
        if existing is not None:
            return _replayed(existing, data)
    try:
        info = inspect_image(data, max_pixels=settings.RANGEWATCH_MAX_IMAGE_PIXELS)
    except ImageError as exc:
        raise UploadRejected(exc.code, exc.detail) from exc
    meta = read_photo_metadata(data)
    flags = list(meta.flags)
    latitude, longitude, accuracy_m, source = _location(meta, latitude, longitude, accuracy_m, flags)
    observed_at = _observed_at(meta, observed_at, flags)
    observation = Observation(
        owner=owner,
        photo_format=info.format,
        photo_width=info.width,
        photo_height=info.height,
        latitude=latitude,
        longitude=longitude,
        location_source=source,
        accuracy_m=accuracy_m,
        location_flags=flags,
        observed_at=observed_at,
        idempotency_key=idempotency_key or "",
        geoprivacy=geoprivacy,
        batch=batch,
        listed_publicly=listed_publicly,
        held=held,
        published_at=None if held else timezone.now(),
    )
    try:
        with transaction.atomic():
            observation.photo.save("upload", photo, save=False)
            observation.save()
            if not held:  # a held frame is published by its source when its turn comes (`observation_release`)
                classify_enqueue_on_commit(observation_id=observation.pk, batch=batch)
    except IntegrityError:
        # A concurrent retry with the same key won the race.
        observation.photo.delete(save=False)
        existing = Observation.objects.filter(owner=owner, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _replayed(existing, data)
    return UploadResult(observation, True)


def observations_release(*, observation_ids: list[int]) -> list[int]:
    """Hand held batch frames to the broker (their turn came): the ones still held are marked
    published and enqueued after commit. Returns the ids released."""
    with transaction.atomic():
        ids = list(
            Observation.objects.select_for_update()
            .filter(pk__in=observation_ids, held=True, status=Observation.Status.QUEUED)
            .values_list("pk", flat=True)
        )
        Observation.objects.filter(pk__in=ids).update(held=False, published_at=timezone.now())
        for pk in ids:
            classify_enqueue_on_commit(observation_id=pk, batch=True)
    return ids


def _location(meta, latitude, longitude, accuracy_m, flags: list[str]):
    """(latitude, longitude, accuracy, source): the form's position, else the photo's EXIF GPS; a
    form position far from the EXIF one is kept and flagged."""
    if latitude is None or longitude is None:
        if meta.latitude is None:
            raise UploadRejected(
                "bad_location", "no latitude/longitude in the form and no GPS position in the photo", field="latitude"
            )
        # The form's accuracy, if any, was for a position it did not send.
        return meta.latitude, meta.longitude, meta.accuracy_m, Observation.LocationSource.EXIF
    if meta.latitude is not None and (
        abs(meta.latitude - latitude) > LOCATION_DISAGREEMENT_DEG
        or abs(meta.longitude - longitude) > LOCATION_DISAGREEMENT_DEG
    ):
        flags.append("exif_location_disagrees")
    return latitude, longitude, accuracy_m, Observation.LocationSource.CLIENT


def _observed_at(meta, observed_at, flags: list[str]):
    """The form's date, else the EXIF date when plausible."""
    if observed_at is not None or meta.taken_at is None:
        return observed_at
    taken = meta.taken_at
    taken = timezone.make_aware(taken, timezone.get_default_timezone()) if timezone.is_naive(taken) else taken
    # A camera's clock is often wrong (never set, year 9999): such a date is dropped and the
    # row flagged, not trusted and not a reason to refuse the photo.
    if observed_at_problem(taken) is None:
        return taken
    flags.append("exif_date_implausible")
    return None


def observation_set_geoprivacy(*, observation: Observation, geoprivacy: str) -> Observation:
    """The owner's choice; public surfaces follow at their next read (nothing generalised is stored)."""
    Observation.objects.filter(pk=observation.pk).update(geoprivacy=geoprivacy)
    observation.geoprivacy = geoprivacy
    return observation


def observation_delete(*, observation: Observation) -> None:
    """Delete the row, the original photo and its served derivative."""
    key = derivative_key(observation)
    with transaction.atomic():
        observation.delete()
        transaction.on_commit(lambda: (observation.photo.delete(save=False), default_storage.delete(key)))
