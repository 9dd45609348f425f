"""Celery tasks of the alerts app: id in, one service call; each states its contract here.
The receivers (alerts.receivers) and this module enqueue; services never do."""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.db import DatabaseError, InterfaceError

from alerts.delivery import TransientDeliveryError, alert_delivery_send
from alerts.services import observation_alert

log = logging.getLogger(__name__)


@shared_task(
    name="observations.raise_observation_alert",  # the wire name from before the app split: queued messages still run
    # queue: "default"
    acks_late=True,  # idempotent: groups and deliveries are get_or_create
    reject_on_worker_lost=True,
    autoretry_for=(DatabaseError, InterfaceError),  # transient database trouble only; nothing else is retried
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=3,
)
def raise_observation_alert(observation_id: int, trigger: str) -> int | None:
    raised = observation_alert(observation_id=observation_id, trigger=trigger)
    if raised is None:
        return None
    for delivery_id in raised.new_delivery_ids:  # committed by the service: safe to publish now
        enqueue(deliver_alert, delivery_id)
    return raised.group.pk


@shared_task(
    bind=True,
    name="observations.deliver_alert",  # the wire name from before the app split
    # queue: "default"
    acks_late=True,  # idempotent: a sent delivery is not sent again
    reject_on_worker_lost=True,
    max_retries=5,  # then the delivery is recorded as failed (alerts.delivery.MAX_DELIVERY_ATTEMPTS)
)
def deliver_alert(self, delivery_id: int) -> str:
    """Retries only TransientDeliveryError (connection, timeout, 5xx, 429, SMTP) and database
    hiccups, with exponential backoff and full jitter (Celery's autoretry cannot take a per-try
    decision on the final attempt, hence the explicit retry); a 4xx answer fails at once."""
    try:
        return alert_delivery_send(delivery_id=delivery_id, final_attempt=self.request.retries >= self.max_retries)
    except (TransientDeliveryError, DatabaseError, InterfaceError) as exc:
        countdown = random.uniform(0, min(600, 5 * 2**self.request.retries))
        raise self.retry(exc=exc, countdown=countdown) from exc


def enqueue(task, *args) -> bool:
    """Publish a task; a broker outage is logged, not raised (the observation itself is saved)."""
    try:
        task.apply_async(args=list(args), retry=True)
        return True
    except Exception as exc:  # noqa: BLE001 - kombu raises many connection error types
        log.warning("could not enqueue %s%s (%s)", task.name, args, exc)
        return False
