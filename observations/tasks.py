"""Celery tasks of the observations app: id in, one service call. Each states its contract where
it is declared. Services enqueue through the functions at the bottom (after commit); this module
imports no service that enqueues, so tasks and services never import each other."""

from __future__ import annotations

import logging

from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction

from core.jobs import BATCH_QUEUE, DEFAULT_QUEUE, INFERENCE_QUEUE, TRANSIENT_ERRORS, enqueue, retry_on, task
from observations.classification import MAX_ATTEMPTS, observation_classify, observation_fail, stuck_observations_sweep
from observations.models import Observation

log = logging.getLogger(__name__)


@task(
    "observations.classify_observation",
    queue=INFERENCE_QUEUE,  # the GPU / thread-pool workers; a batch upload's on BATCH_QUEUE (classify_enqueue)
    acks_late=True,  # redelivered if the worker dies mid-task; the service is idempotent
    reject_on_worker_lost=True,
    # Transient only (database, storage). Never retried: a corrupt or unsupported photo (a typed
    # failure entry, not an exception), a missing row (the task returns "missing").
    # every delivery is an attempt; the one after the last records too_many_attempts
    **retry_on(*TRANSIENT_ERRORS, max_retries=MAX_ATTEMPTS),
)
def classify_observation(observation_id: int) -> str:
    try:
        return observation_classify(observation_id=observation_id)
    except SoftTimeLimitExceeded:
        observation_fail(observation_id=observation_id, code="timeout", detail="classification exceeded its time limit")
        return Observation.Status.FAILED


@task("observations.sweep_stuck_observations", queue=DEFAULT_QUEUE, acks_late=True, max_retries=0)  # beat runs it again
def sweep_stuck_observations() -> dict:
    again, failed = stuck_observations_sweep(broker_backlog=inference_backlog())
    requeued = sum(classify_enqueue(observation_id=pk, batch=batch) for pk, batch in again)
    return {"requeued": requeued, "failed": failed}


def classify_enqueue(*, observation_id: int, batch: bool = False) -> bool:
    """Publish the classification (on BATCH_QUEUE for a batch upload); a broker outage is logged, not
    raised: the row says the broker never got it (`published_at` null) and the sweeper publishes it
    once the broker is back."""
    return enqueue(
        classify_observation,
        observation_id,
        queue=BATCH_QUEUE if batch else None,
        on_failure=lambda exc: Observation.objects.filter(pk=observation_id, status=Observation.Status.QUEUED).update(
            published_at=None
        ),
    )


def classify_enqueue_on_commit(*, observation_id: int, batch: bool = False) -> None:
    """classify_enqueue once the current transaction commits (the upload's row is there to read)."""
    transaction.on_commit(lambda: classify_enqueue(observation_id=observation_id, batch=batch))


def inference_backlog() -> int | None:
    """Messages waiting in the broker's inference queues, interactive and batch (delivered but
    unacknowledged ones are not counted), or None when the broker cannot be asked."""
    try:
        with classify_observation.app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.default_channel
            return sum(
                channel.queue_declare(queue=name, durable=True, auto_delete=False).message_count
                for name in (INFERENCE_QUEUE, BATCH_QUEUE)
            )
    except Exception as exc:  # noqa: BLE001 - kombu raises many connection error types
        log.warning("could not read the inference queue's length (%s); nothing is re-published this round", exc)
        return None
