"""Celery tasks: id in, one service call. Each states its contract where it is declared."""
from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import DatabaseError, InterfaceError

from observations import services
from observations.models import Observation


@shared_task(
    name="observations.classify_observation",
    queue="inference",
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


@shared_task(name="observations.sweep_stuck_observations", queue="default", acks_late=True, max_retries=0)
def sweep_stuck_observations() -> dict:
    return services.sweep_stuck_observations()
