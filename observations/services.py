"""Writes for observations: accept an upload, change its geoprivacy, delete it.
(The classification step is observations.classification.)"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.errors import ServiceError
from ml.images import ImageError, inspect_image
from observations.exif import read_photo_metadata
from observations.models import Geoprivacy, Observation
from observations.photos import derivative_key
from observations.tasks import classify_enqueue

log = logging.getLogger(__name__)

# When the form and the photo's EXIF disagree by more than this, the form wins and the row is flagged.
LOCATION_DISAGREEMENT_DEG = 0.5


class UploadRejected(ServiceError):
    """The photo or its location cannot be accepted: `code` says why (image_corrupt, bad_location, ...)."""

    def __init__(self, code: str, detail: str, field: str = "photo"):
        super().__init__(detail, code=code, fields={field: [detail]})


@dataclass
class UploadResult:
    observation: Observation
    created: bool


def observation_create(
    *,
    owner,
    photo,
    latitude: float | None,
    longitude: float | None,
    observed_at=None,
    idempotency_key: str = "",
    geoprivacy: str = Geoprivacy.OPEN,
    batch: bool = False,
) -> UploadResult:
    """Validate the photo's header, take the location from the form or the EXIF GPS, save the row
    and enqueue classification after commit. A repeated Idempotency-Key returns the first row.
    `batch` (a camera-trap card, an import) classifies it behind interactive uploads."""
    if idempotency_key:
        existing = Observation.objects.filter(owner=owner, idempotency_key=idempotency_key).first()
        if existing is not None:
            return UploadResult(existing, False)
    data = photo.read()
    photo.seek(0)
    try:
        info = inspect_image(data, max_pixels=settings.RANGEWATCH_MAX_IMAGE_PIXELS)
    except ImageError as exc:
        raise UploadRejected(exc.code, exc.detail) from exc
    meta = read_photo_metadata(data)
    flags = list(meta.flags)
    if latitude is None or longitude is None:
        if meta.latitude is None:
            raise UploadRejected("bad_location", "no latitude/longitude in the form and no GPS position in the photo", field="latitude")
        latitude, longitude, source = meta.latitude, meta.longitude, Observation.LocationSource.EXIF
    else:
        source = Observation.LocationSource.CLIENT
        if meta.latitude is not None and (
            abs(meta.latitude - latitude) > LOCATION_DISAGREEMENT_DEG or abs(meta.longitude - longitude) > LOCATION_DISAGREEMENT_DEG
        ):
            flags.append("exif_location_disagrees")
    if observed_at is None and meta.taken_at is not None:
        taken = meta.taken_at
        observed_at = timezone.make_aware(taken, timezone.get_default_timezone()) if timezone.is_naive(taken) else taken
    observation = Observation(
        owner=owner,
        photo_format=info.format,
        photo_width=info.width,
        photo_height=info.height,
        latitude=latitude,
        longitude=longitude,
        location_source=source,
        location_flags=flags,
        observed_at=observed_at,
        idempotency_key=idempotency_key or "",
        geoprivacy=geoprivacy,
    )
    try:
        with transaction.atomic():
            observation.photo.save("upload", photo, save=False)
            observation.save()
            transaction.on_commit(lambda: classify_enqueue(observation_id=observation.pk, batch=batch))
    except IntegrityError:
        # A concurrent retry with the same key won the race.
        observation.photo.delete(save=False)
        existing = Observation.objects.filter(owner=owner, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return UploadResult(existing, False)
    return UploadResult(observation, True)


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
