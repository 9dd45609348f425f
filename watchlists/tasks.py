"""Celery tasks of the watch lists: id in, one service call."""

from __future__ import annotations

import datetime
import logging

from celery import shared_task
from django.db import DatabaseError, InterfaceError
from django.utils import timezone

from alerts.delivery import TransientDeliveryError
from alerts.tasks import DELIVERY_BACKOFF_MAX_S, DELIVERY_BACKOFF_S
from core.jobs import DEFAULT_QUEUE, enqueue, retry_countdown, task
from watchlists.digests import DigestRun, digests_send
from watchlists.matching import observation_matches_sync, watch_list_match_existing
from watchlists.models import WatchList, WebhookDelivery
from watchlists.webhooks import webhook_delivery_send

log = logging.getLogger(__name__)


@shared_task(
    name="watchlists.match_observation",
    acks_late=True,  # idempotent: matching makes the matches what the lists say now
    reject_on_worker_lost=True,
    autoretry_for=(DatabaseError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=3,
)
def match_observation(observation_id: int) -> dict:
    return observation_matches_sync(observation_id=observation_id)


@shared_task(name="watchlists.match_existing", acks_late=True, soft_time_limit=3000, time_limit=3600)
def match_existing(watch_list_id: int) -> int:
    """A new list takes the records already here (idempotent: matching makes what the list says)."""
    watch_list = WatchList.objects.filter(pk=watch_list_id).first()
    return watch_list_match_existing(watch_list=watch_list) if watch_list else 0


@task(
    "watchlists.deliver_webhook",
    queue=DEFAULT_QUEUE,
    bind=True,
    acks_late=True,  # idempotent: only a pending delivery is sent
    reject_on_worker_lost=True,
    max_retries=5,  # then the delivery is recorded as failed (alerts.delivery.MAX_DELIVERY_ATTEMPTS)
)
def deliver_webhook(self, delivery_id: int) -> str:
    """One digest window to one subscribed webhook. Retries only TransientDeliveryError (no
    answer, timeout, 5xx, 429) and database hiccups, with the alerts' backoff; its last attempt
    records `failed` instead of raising; a refused target or a 4xx answer fails at once."""
    try:
        return webhook_delivery_send(delivery_id=delivery_id, final_attempt=self.request.retries >= self.max_retries)
    except (TransientDeliveryError, DatabaseError, InterfaceError) as exc:
        countdown = retry_countdown(self.request.retries, DELIVERY_BACKOFF_S, DELIVERY_BACKOFF_MAX_S)
        raise self.retry(exc=exc, countdown=countdown) from exc


# A delivery never tried this long after it was recorded was never run (the broker refused it, or
# the process died between recording and publishing it): the next digest run publishes it again.
# Should the first task still be waiting in a long queue, alerts.delivery's claim lets one send.
STUCK_DELIVERY_AFTER = datetime.timedelta(minutes=10)


def digests_publish(*, frequency: str) -> DigestRun:
    """Send a frequency's digest e-mails and publish its webhook deliveries (the beat task and
    `manage.py send_watchlist_digests`), and again the deliveries of earlier runs that were never
    tried. A delivery the broker did not take stays pending, saying so."""
    run = digests_send(frequency=frequency)
    stuck = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING,
            attempts=0,
            created__lt=timezone.now() - STUCK_DELIVERY_AFTER,
        )
        .exclude(pk__in=run.webhook_deliveries)
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    if stuck:
        log.warning("publishing %d webhook deliveries again: never tried since they were recorded", len(stuck))
    for delivery_id in [*run.webhook_deliveries, *stuck]:
        enqueue(deliver_webhook, delivery_id, on_failure=_not_queued(delivery_id))
    return run


def _not_queued(delivery_id: int):
    def record(exc: Exception) -> None:
        WebhookDelivery.objects.filter(pk=delivery_id).update(last_error=f"not queued: {exc}"[:2000])

    return record


@shared_task(name="watchlists.send_digests", acks_late=True, soft_time_limit=3000, time_limit=3600)
def send_digests(frequency: str) -> int:
    return digests_publish(frequency=frequency).emails
