"""The classification step of an observation: claim the job, run the active model, build the served
copy of the photo, decide the taxon (with roll-up), compute the verdict, store prediction and verdict
in one transaction."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from classifier.inference import (
    HEARTBEAT_TTL_S,
    ModelUnavailable,
    classify_photo,
    worker_identity,
    workers_alive,
)
from classifier.models import ModelVersion
from ml.images import ImageError
from observations.models import Observation, Prediction, Verdict
from observations.photos import photo_derivative_build
from observations.signals import observation_classified
from observations.verdict_records import upsert_for_observation, verdict_record_save
from ranges.at_point import identify_here
from ranges.identification import REVIEW_LEVEL
from species.selectors import taxa_by_keys

log = logging.getLogger(__name__)

# One attempts limit for a job, whoever retries it (Celery's redelivery, the sweeper): the task's
# max_retries stays below it, so the job ends `failed` with a typed reason, never loops.
MAX_ATTEMPTS = 3


def observation_fail(*, observation_id: int, code: str, detail: str = "") -> None:
    Observation.objects.filter(pk=observation_id).exclude(status=Observation.Status.DONE).update(
        status=Observation.Status.FAILED, failure_code=code, failure_detail=detail[:2000], updated=timezone.now()
    )


def observation_classify(*, observation_id: int) -> str:
    """Classify one observation and store prediction and verdict. Idempotent: a redelivered task
    finds the work done and returns. Returns the final status."""
    claimed = Observation.objects.filter(
        pk=observation_id, status__in=[Observation.Status.QUEUED, Observation.Status.PROCESSING]
    )
    observation = claimed.first()
    if observation is None:
        return Observation.objects.filter(pk=observation_id).values_list("status", flat=True).first() or "missing"
    if observation.attempts >= MAX_ATTEMPTS:
        observation_fail(
            observation_id=observation.pk,
            code="too_many_attempts",
            detail=f"gave up after {observation.attempts} attempts",
        )
        return Observation.Status.FAILED
    claimed.update(
        status=Observation.Status.PROCESSING,
        attempts=observation.attempts + 1,
        worker=worker_identity(),
        updated=timezone.now(),
    )

    with observation.photo.open("rb") as fh:
        data = fh.read()
    try:
        version, result = classify_photo(data)
    except ModelUnavailable as exc:
        # Not retried: a broken artifact stays broken; the job says why at once (issue 23).
        observation_fail(observation_id=observation.pk, code=exc.code, detail=str(exc))
        return Observation.Status.FAILED
    if not result.ok:
        observation_fail(observation_id=observation.pk, code=result.error_code, detail=result.error_detail)
        return Observation.Status.FAILED
    # The served copy is made here, once, from the bytes already read: no web process ever decodes
    # a photo (a 7000x7000 PNG took a web process to 3.8 GB and it kept it). `done` implies it exists.
    try:
        photo_derivative_build(observation=observation, data=data)
    except ImageError as exc:
        observation_fail(observation_id=observation.pk, code=exc.code, detail=exc.detail)
        return Observation.Status.FAILED
    observation_record_result(
        observation=observation, model_version=version, taxon_scores=result.taxon_scores, top_k=result.top_k
    )
    return Observation.Status.DONE


def observation_record_result(
    *,
    observation: Observation,
    model_version: ModelVersion,
    taxon_scores: dict[str, float],
    top_k: list[tuple[str, float]],
) -> Verdict:
    """Decide the taxon (with roll-up), compute the verdict, snapshot contacts; one transaction.
    Announces `observation_classified` after commit."""
    # Location-aware: named with a prior from the range data; alerts only on visual evidence (DESIGN §5.6).
    identified = identify_here(taxon_scores=taxon_scores, lon=observation.longitude, lat=observation.latitude)
    decision, found, alert_level = identified.decision, identified.verdict, identified.alert_level
    expected_here = {c.key: c.expected_here for c in identified.candidates}
    asked_about = found.taxon_key if alert_level == REVIEW_LEVEL else None
    taxa = taxa_by_keys([k for k, _ in top_k] + ([decision.key] if decision.key else []))
    chosen = taxa.get(decision.key) if decision.outcome == "identified" else None
    saved_score = decision.score if decision.outcome == "identified" else None
    with transaction.atomic():
        upsert_for_observation(
            Prediction,
            observation,
            model_version=model_version,
            top_k=[
                {"key": k, "score": round(s, 6), "expected_here": expected_here.get(k)}
                # the candidate a "please verify" answer asks about, so that its words name that one
                | ({"asked_about": True} if k == asked_about else {})
                for k, s in top_k
            ],
            taxon=chosen,
            score=saved_score,
            no_animal_score=taxon_scores.get("no_animal", 0.0),
        )
        saved = verdict_record_save(observation=observation, taxon=chosen, found=found, alert_level=alert_level)
        Observation.objects.filter(pk=observation.pk).update(
            status=Observation.Status.DONE, failure_code="", updated=timezone.now()
        )
        transaction.on_commit(
            lambda: observation_classified.send(
                sender=Observation, observation=observation, verdict_status=found.status, score=saved_score
            )
        )
    return saved


def stuck_observations_sweep(
    *, broker_backlog: int | None, queued_after_s: int | None = None, processing_after_s: int | None = None
) -> tuple[list[tuple[int, bool]], int]:
    """Find jobs that no worker will finish and return them to the queue; those at MAX_ATTEMPTS
    fail with a typed reason. Returns ((id, batch) pairs to publish again, each on the queue it was
    uploaded for, and the number failed).

    - `processing` whose worker's heartbeat expired (it was killed): reclaimed within
      HEARTBEAT_TTL_S, not after the task's time limit; `processing` past the hard time limit
      (or claimed by no beating worker) as before.
    - `queued` for `queued_after_s`: published again only if nothing can be waiting for it in the
      broker: the broker refused it (`published_at` null), the broker's inference queue is empty
      (`broker_backlog` 0: restarted empty), or it was published longer ago than the visibility
      timeout. A job still in a backlog is never re-sent: re-sending every round flooded the broker
      (24 -> 436 messages in 7 minutes) and delayed every upload behind the copies.
    `broker_backlog` None (the broker cannot be asked) publishes nothing this round."""
    now = timezone.now()
    queued_after_s = settings.RANGEWATCH_SWEEP_QUEUED_AFTER_S if queued_after_s is None else queued_after_s
    processing_after_s = processing_after_s or settings.CELERY_TASK_TIME_LIMIT + 30
    visibility_timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    processing = Observation.objects.filter(status=Observation.Status.PROCESSING)
    claimed_a_while_ago = processing.filter(updated__lt=now - timedelta(seconds=HEARTBEAT_TTL_S)).exclude(worker="")
    dead = _claimed_by_dead_workers(claimed_a_while_ago)
    stuck = processing.filter(pk__in=dead) | processing.filter(updated__lt=now - timedelta(seconds=processing_after_s))
    if broker_backlog is not None:
        queued = Observation.objects.filter(
            status=Observation.Status.QUEUED, held=False, updated__lt=now - timedelta(seconds=queued_after_s)
        )  # a held frame waits for its source's turn, it is not lost
        if broker_backlog > 0:
            never_reached_the_broker = Q(published_at__isnull=True)
            lost_from_the_broker = Q(published_at__lt=now - timedelta(seconds=visibility_timeout))
            queued = queued.filter(never_reached_the_broker | lost_from_the_broker)
        stuck = stuck | queued
    again, failed = [], 0
    for observation in stuck.only("id", "attempts", "status", "batch"):
        if observation.attempts >= MAX_ATTEMPTS:
            code = "timeout" if observation.status == Observation.Status.PROCESSING else "too_many_attempts"
            observation_fail(observation_id=observation.pk, code=code, detail="the classification did not finish")
            failed += 1
        elif broker_backlog is not None:
            # Back to `queued`, marked as published now: the queued rule above then leaves it alone.
            Observation.objects.filter(pk=observation.pk, status=observation.status).update(
                status=Observation.Status.QUEUED, worker="", published_at=now, updated=now
            )
            again.append((observation.pk, observation.batch))
    return again, failed


def _claimed_by_dead_workers(processing) -> list[int]:
    """Ids of `processing` jobs whose claiming worker sends no heartbeat any more."""
    claims = dict(processing.values_list("pk", "worker"))
    alive = workers_alive(set(claims.values())) if claims else set()
    return [pk for pk, worker in claims.items() if worker not in alive]
