"""Celery tasks of the observations app: id in, one service call. Each states its contract where
it is declared. Services enqueue through the functions at the bottom (after commit); this module
imports no service that enqueues, so tasks and services never import each other."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import DatabaseError, InterfaceError

from observations.classification import MAX_ATTEMPTS, observation_classify, observation_fail, stuck_observations_sweep
from observations.models import Observation

log = logging.getLogger(__name__)

# Batch uploads (camera-trap projects, imports) wait on their own queue, so a card of 10,000 frames
# never sits in front of a phone. The inference worker consumes both; on Redis it polls the
# interactive one first (CELERY_BROKER_TRANSPORT_OPTIONS queue_order_strategy "sorted").
BATCH_QUEUE = "inference-batch"


@shared_task(
    name="observations.classify_observation",
    # queue: "inference", the GPU / thread-pool workers (CELERY_TASK_ROUTES); batches: BATCH_QUEUE
    acks_late=True,  # redelivered if the worker dies mid-task; the service is idempotent
    reject_on_worker_lost=True,
    # Transient only (database, storage). Never retried: a corrupt or unsupported photo (a typed
    # failure entry, not an exception), a missing row (the task returns "missing").
    autoretry_for=(DatabaseError, InterfaceError, OSError),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=MAX_ATTEMPTS,  # every delivery is an attempt; the one after the last records too_many_attempts
)
def classify_observation(observation_id: int) -> str:
    try:
        return observation_classify(observation_id=observation_id)
    except SoftTimeLimitExceeded:
        observation_fail(observation_id=observation_id, code="timeout", detail="classification exceeded its time limit")
        return Observation.Status.FAILED


@shared_task(
    name="observations.sweep_stuck_observations", acks_late=True, max_retries=0
)  # queue: default; beat runs it again
def sweep_stuck_observations() -> dict:
    again, failed = stuck_observations_sweep(broker_backlog=inference_backlog())
    requeued = sum(classify_enqueue(observation_id=pk, batch=batch) for pk, batch in again)
    return {"requeued": requeued, "failed": failed}


def classify_enqueue(*, observation_id: int, batch: bool = False) -> bool:
    """Publish the classification (on BATCH_QUEUE for a batch upload); a broker outage is logged, not
    raised: the row says the broker never got it (`published_at` null) and the sweeper publishes it
    once the broker is back."""
    try:
        classify_observation.apply_async(args=[observation_id], retry=True, **({"queue": BATCH_QUEUE} if batch else {}))
        return True
    except Exception as exc:  # noqa: BLE001 - kombu raises many connection error types
        log.warning("could not enqueue observation %s (%s); the sweeper will retry", observation_id, exc)
        Observation.objects.filter(pk=observation_id, status=Observation.Status.QUEUED).update(published_at=None)
        return False


def inference_backlog() -> int | None:
    """Messages waiting in the broker's inference queues, interactive and batch (delivered but
    unacknowledged ones are not counted), or None when the broker cannot be asked."""
    queue = classify_observation.app.amqp.router.route({}, classify_observation.name)["queue"].name
    try:
        with classify_observation.app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.default_channel
            return sum(
                channel.queue_declare(queue=name, durable=True, auto_delete=False).message_count
                for name in (queue, BATCH_QUEUE)
            )
    except Exception as exc:  # noqa: BLE001 - kombu raises many connection error types
        log.warning("could not read the inference queue's length (%s); nothing is re-published this round", exc)
        return None
