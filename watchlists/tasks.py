"""Celery tasks of the watch lists: id in, one service call."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import DatabaseError, InterfaceError

from watchlists.digests import digests_send
from watchlists.matching import observation_matches_sync, watch_list_match_existing
from watchlists.models import WatchList

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


@shared_task(name="watchlists.send_digests", acks_late=True, soft_time_limit=3000, time_limit=3600)
def send_digests(frequency: str) -> int:
    return digests_send(frequency=frequency)


def enqueue(task, *args) -> bool:
    """Publish a task; a broker outage is logged, not raised (the record itself is saved)."""
    try:
        task.apply_async(args=list(args), retry=True)
        return True
    except Exception as exc:  # noqa: BLE001 - kombu raises many connection error types
        log.warning("could not enqueue %s%s (%s)", task.name, args, exc)
        return False
