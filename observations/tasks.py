"""Celery tasks: id in, one service call. Each states its contract where it is declared."""
from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import DatabaseError, InterfaceError

from observations import services
from observations.models import Observation


@shared_task(
    name="observations.classify_observation",
    # queue: "inference" (CELERY_TASK_ROUTES)
    acks_late=True,  # redelivered if the worker dies mid-task; the service is idempotent
    reject_on_worker_lost=True,
    autoretry_for=(DatabaseError, InterfaceError, OSError),  # transient: database, storage
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=3,
)
def classify_observation(observation_id: int) -> str:
    try:
        return services.observation_classify(observation_id=observation_id)
    except SoftTimeLimitExceeded:
        observation = Observation.objects.filter(pk=observation_id).first()
        if observation is not None:
            services.observation_fail(observation=observation, code="timeout", detail="classification exceeded its time limit")
        return Observation.Status.FAILED


@shared_task(name="observations.sweep_stuck_observations", acks_late=True, max_retries=0)  # queue: default
def sweep_stuck_observations() -> dict:
    return services.sweep_stuck_observations()


@shared_task(
    name="observations.raise_observation_alert",
    # queue: "default" (the default queue)
    acks_late=True,  # idempotent: groups and deliveries are get_or_create
    reject_on_worker_lost=True,
    autoretry_for=(DatabaseError, InterfaceError),  # transient database trouble only
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=3,
)
def raise_observation_alert(observation_id: int, trigger: str) -> int | None:
    from observations.alerts import observation_alert

    group = observation_alert(observation_id=observation_id, trigger=trigger)
    return group.pk if group else None


@shared_task(
    bind=True,
    name="observations.deliver_alert",
    # queue: "default" (the default queue)
    acks_late=True,  # idempotent: a sent delivery is not sent again
    reject_on_worker_lost=True,
    max_retries=5,  # then the delivery is recorded as failed
)
def deliver_alert(self, delivery_id: int) -> str:
    """Retries only TransientDeliveryError (connection, timeout, 5xx, 429, SMTP) and database
    hiccups, with exponential backoff and full jitter; a 4xx answer fails at once."""
    import random

    from observations.alerts import TransientDeliveryError, alert_delivery_send

    try:
        return alert_delivery_send(delivery_id=delivery_id, final_attempt=self.request.retries >= self.max_retries)
    except (TransientDeliveryError, DatabaseError, InterfaceError) as exc:
        countdown = random.uniform(0, min(600, 5 * 2**self.request.retries))
        raise self.retry(exc=exc, countdown=countdown)
