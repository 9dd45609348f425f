"""Writes for observations: create an upload, classify it, record the verdict, sweep stuck jobs."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ml.images import ImageError, inspect_image
from observations.alerts import alert_on_classified
from observations.exif import read_photo_metadata
from observations.models import ModelVersion, Observation, Prediction, Verdict
from ranges.selectors import contact_snapshot, contacts_for_regions, identify_here
from species.selectors import taxa_by_keys

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
# When the form and the photo's EXIF disagree by more than this, the form wins and the row is flagged.
LOCATION_DISAGREEMENT_DEG = 0.5


class UploadRejected(Exception):
    """A typed, client-facing refusal: `code` is machine-readable."""

    def __init__(self, code: str, detail: str, field: str = "photo"):
        super().__init__(detail)
        self.code, self.detail, self.field = code, detail, field


@dataclass
class UploadResult:
    observation: Observation
    created: bool


def observation_create(*, owner, photo, latitude: float | None, longitude: float | None, observed_at=None, idempotency_key: str = "") -> UploadResult:
    """Validate the photo's header, take the location from the form or the EXIF GPS, save the row
    and enqueue classification after commit. A repeated Idempotency-Key returns the first row."""
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
        if meta.latitude is not None and (abs(meta.latitude - latitude) > LOCATION_DISAGREEMENT_DEG or abs(meta.longitude - longitude) > LOCATION_DISAGREEMENT_DEG):
            flags.append("exif_location_disagrees")
    if observed_at is None and meta.taken_at is not None:
        observed_at = timezone.make_aware(meta.taken_at, timezone.get_default_timezone()) if timezone.is_naive(meta.taken_at) else meta.taken_at
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
    )
    try:
        with transaction.atomic():
            observation.photo.save("upload", photo, save=False)
            observation.save()
            transaction.on_commit(lambda: observation_enqueue(observation_id=observation.pk))
    except IntegrityError:
        # A concurrent retry with the same key won the race.
        observation.photo.delete(save=False)
        existing = Observation.objects.filter(owner=owner, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return UploadResult(existing, False)
    return UploadResult(observation, True)


def observation_enqueue(*, observation_id: int) -> bool:
    """Publish the classification task; a broker outage is logged, not raised: the sweeper retries."""
    from observations.tasks import classify_observation

    try:
        classify_observation.apply_async(args=[observation_id], retry=True)
        return True
    except Exception as exc:  # noqa: BLE001 - kombu raises many connection error types
        log.warning("could not enqueue observation %s (%s); the sweeper will retry", observation_id, exc)
        return False


def observation_fail(*, observation: Observation, code: str, detail: str = "") -> None:
    Observation.objects.filter(pk=observation.pk).exclude(status=Observation.Status.DONE).update(
        status=Observation.Status.FAILED, failure_code=code, failure_detail=detail[:2000], updated=timezone.now()
    )


def observation_classify(*, observation_id: int) -> str:
    """Classify one observation and store prediction and verdict. Idempotent: a redelivered task
    finds the work done and returns. Returns the final status."""
    from observations.inference import classify_photo

    claimed = Observation.objects.filter(pk=observation_id, status__in=[Observation.Status.QUEUED, Observation.Status.PROCESSING])
    observation = claimed.first()
    if observation is None:
        return Observation.objects.filter(pk=observation_id).values_list("status", flat=True).first() or "missing"
    if observation.attempts >= MAX_ATTEMPTS:
        observation_fail(observation=observation, code="too_many_attempts", detail=f"gave up after {observation.attempts} attempts")
        return Observation.Status.FAILED
    claimed.update(status=Observation.Status.PROCESSING, attempts=observation.attempts + 1, updated=timezone.now())

    with observation.photo.open("rb") as fh:
        data = fh.read()
    version, result = classify_photo(data)
    if not result.ok:
        observation_fail(observation=observation, code=result.error_code, detail=result.error_detail)
        return Observation.Status.FAILED
    observation_record_result(observation=observation, model_version=version, taxon_scores=result.taxon_scores, top_k=result.top_k)
    return Observation.Status.DONE


def observation_record_result(*, observation: Observation, model_version: ModelVersion, taxon_scores: dict[str, float], top_k: list[tuple[str, float]]) -> Verdict:
    """Decide the taxon (with roll-up), compute the verdict, snapshot contacts; one transaction."""
    # Location-aware: named with a prior from the range data; alerts only on visual evidence (DESIGN §5.6).
    identified = identify_here(taxon_scores=taxon_scores, lon=observation.longitude, lat=observation.latitude)
    decision, found, alert_level = identified.decision, identified.verdict, identified.alert_level
    expected_here = {c.key: c.expected_here for c in identified.candidates}
    contacts = [contact_snapshot(c) for c in contacts_for_regions(found.region_codes)] if alert_level else []
    taxa = taxa_by_keys([k for k, _ in top_k] + ([decision.key] if decision.key else []))
    chosen = taxa.get(decision.key) if decision.outcome == "identified" else None
    saved_score = decision.score if decision.outcome == "identified" else None
    with transaction.atomic():
        _upsert_for_observation(
            Prediction,
            observation,
            model_version=model_version,
            top_k=[{"key": k, "score": round(s, 6), "expected_here": expected_here.get(k)} for k, s in top_k],
            taxon=chosen,
            score=saved_score,
            no_animal_score=taxon_scores.get("no_animal", 0.0),
        )
        saved = _upsert_for_observation(
            Verdict,
            observation,
            taxon=chosen,
            status=found.status,
            region_code=found.region_code or "",
            region_codes=list(found.region_codes),
            alert_level=alert_level,
            explanation=found.explanation,
            sources=list(found.sources),
            contacts=contacts,
        )
        Observation.objects.filter(pk=observation.pk).update(status=Observation.Status.DONE, failure_code="", updated=timezone.now())
        alert_on_classified(observation=observation, verdict_status=found.status, score=saved_score)
    return saved


def _upsert_for_observation(model, observation: Observation, **values):
    """The observation's one Prediction or Verdict, written in one INSERT ... ON CONFLICT DO UPDATE
    (a redelivered task overwrites its own earlier row; update_or_create took four queries)."""
    row = model(observation=observation, **values)
    model.objects.bulk_create([row], update_conflicts=True, unique_fields=["observation"], update_fields=list(values))
    return row


def sweep_stuck_observations(*, queued_after_s: int | None = None, processing_after_s: int | None = None) -> dict[str, int]:
    """Re-enqueue uploads stuck in `queued` (broker down at upload) or `processing` past the hard
    time limit (worker died); give up after MAX_ATTEMPTS with a typed failure."""
    now = timezone.now()
    queued_after_s = settings.RANGEWATCH_SWEEP_QUEUED_AFTER_S if queued_after_s is None else queued_after_s
    processing_after_s = processing_after_s or settings.CELERY_TASK_TIME_LIMIT + 30
    counts = {"requeued": 0, "failed": 0}
    stuck = Observation.objects.filter(status=Observation.Status.QUEUED, updated__lt=now - timedelta(seconds=queued_after_s)) | Observation.objects.filter(
        status=Observation.Status.PROCESSING, updated__lt=now - timedelta(seconds=processing_after_s)
    )
    for observation in stuck.only("id", "attempts", "status"):
        if observation.attempts >= MAX_ATTEMPTS:
            code = "timeout" if observation.status == Observation.Status.PROCESSING else "too_many_attempts"
            observation_fail(observation=observation, code=code, detail="the classification did not finish")
            counts["failed"] += 1
        else:
            Observation.objects.filter(pk=observation.pk).update(updated=now)
            counts["requeued"] += int(observation_enqueue(observation_id=observation.pk))
    return counts



def model_version_register(*, path, activate: bool = False) -> ModelVersion:
    """Register an artifact folder (verified: manifest, checksum) as a model version."""
    from ml.artifacts import file_sha256, read_manifest

    manifest = read_manifest(path)
    sha = file_sha256(Path(path) / manifest.weights_file)
    if manifest.sha256 and manifest.sha256 != sha:
        raise ValueError(f"checksum mismatch in {path}")
    with transaction.atomic():
        version, _ = ModelVersion.objects.update_or_create(
            name=manifest.name,
            defaults={"arch": manifest.arch, "path": str(path), "sha256": sha, "num_labels": manifest.num_classes, "metrics": manifest.metrics},
        )
        if activate:
            model_version_activate(model_version=version)
    return version


@transaction.atomic
def model_version_activate(*, model_version: ModelVersion) -> None:
    """Exactly one active version; workers notice on their next task (no restart)."""
    ModelVersion.objects.select_for_update().filter(is_active=True).exclude(pk=model_version.pk).update(is_active=False)
    ModelVersion.objects.filter(pk=model_version.pk).update(is_active=True, activated=timezone.now())


def observation_set_geoprivacy(*, observation: Observation, geoprivacy: str) -> Observation:
    """The owner's choice; public surfaces follow at their next read (nothing generalised is stored)."""
    Observation.objects.filter(pk=observation.pk).update(geoprivacy=geoprivacy)
    observation.geoprivacy = geoprivacy
    return observation


def observation_delete(*, observation: Observation) -> None:
    """Delete the row, the original photo and its served derivative."""
    from django.core.files.storage import default_storage

    from observations.photos import derivative_key

    key = derivative_key(observation)
    with transaction.atomic():
        observation.delete()
        transaction.on_commit(lambda: (observation.photo.delete(save=False), default_storage.delete(key)))
