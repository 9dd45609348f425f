"""Celery tasks of the alerts app: id in, one service call; each states its contract here.
The receivers (alerts.receivers) and this module enqueue; services never do."""

from __future__ import annotations

from django.db import DatabaseError, InterfaceError

from alerts.delivery import TransientDeliveryError, alert_delivery_send
from alerts.services import observation_alert
from core.jobs import DEFAULT_QUEUE, enqueue, retry_countdown, retry_on, task

# A webhook receiver or mail server may be down for minutes: deliveries back off further.
DELIVERY_BACKOFF_S, DELIVERY_BACKOFF_MAX_S = 5, 600


@task(
    "alerts.raise_observation_alert",
    queue=DEFAULT_QUEUE,
    aliases=("observations.raise_observation_alert",),  # its name before the app split: queued messages still run
    acks_late=True,  # idempotent: groups and deliveries are get_or_create
    reject_on_worker_lost=True,
    **retry_on(DatabaseError, InterfaceError, max_retries=3),  # transient database trouble only
)
def raise_observation_alert(observation_id: int, trigger: str) -> int | None:
    raised = observation_alert(observation_id=observation_id, trigger=trigger)
    if raised is None:
        return None
    for delivery_id in raised.new_delivery_ids:  # committed by the service: safe to publish now
        enqueue(deliver_alert, delivery_id)
    return raised.group.pk


@task(
    "alerts.deliver_alert",
    queue=DEFAULT_QUEUE,
    aliases=("observations.deliver_alert",),  # its name before the app split
    bind=True,
    acks_late=True,  # idempotent: a sent delivery is not sent again
    reject_on_worker_lost=True,
    max_retries=5,  # then the delivery is recorded as failed (alerts.delivery.MAX_DELIVERY_ATTEMPTS)
)
def deliver_alert(self, delivery_id: int) -> str:
    """Retries only TransientDeliveryError (connection, timeout, 5xx, 429, SMTP) and database
    hiccups, by the one backoff policy (core.jobs) with a longer base; the task retries itself
    because its last attempt records `failed` instead of raising; a 4xx answer fails at once."""
    try:
        return alert_delivery_send(delivery_id=delivery_id, final_attempt=self.request.retries >= self.max_retries)
    except (TransientDeliveryError, DatabaseError, InterfaceError) as exc:
        countdown = retry_countdown(self.request.retries, DELIVERY_BACKOFF_S, DELIVERY_BACKOFF_MAX_S)
        raise self.retry(exc=exc, countdown=countdown) from exc
