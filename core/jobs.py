"""Celery plumbing, one way for every app: how a task is declared (`task`: its name under its own
app, its queue, old names kept as aliases), how it is published (`enqueue`, `enqueue_on_commit`)
and how it retries (`retry_on`, `retry_countdown`: one backoff policy)."""

from __future__ import annotations

import logging
from typing import Callable

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.db import DatabaseError, InterfaceError, transaction

log = logging.getLogger(__name__)

# The queues, by the workers that consume them (scripts/run, docker-compose.yml, backend.launcher).
DEFAULT_QUEUE = "default"  # the CPU worker: alerts, notifications, the sweeper
INFERENCE_QUEUE = "inference"  # the inference workers: phones' uploads
# Batch uploads (camera-trap cards, imports) wait on their own queue, so a card of 10,000 frames
# never sits in front of a phone. The inference worker consumes both; on Redis it polls the
# interactive one first (CELERY_BROKER_TRANSPORT_OPTIONS queue_order_strategy "sorted").
BATCH_QUEUE = "inference-batch"
# Darwin Core Archive exports run on their own worker, so an alert's e-mails never wait behind an
# archive of 15,000 records (issue 23: 93 s).
EXPORTS_QUEUE = "exports"
QUEUES = (DEFAULT_QUEUE, INFERENCE_QUEUE, BATCH_QUEUE, EXPORTS_QUEUE)

# Worth retrying: the database or the storage blinked. Bad input and bugs are not.
TRANSIENT_ERRORS = (DatabaseError, InterfaceError, OSError)
# The retry policy: exponential backoff from BACKOFF_S, capped at BACKOFF_MAX_S, with full jitter
# (a burst of failures does not come back as a burst).
BACKOFF_S = 2
BACKOFF_MAX_S = 60


# task name -> the queue its declaration names; read by Celery through CELERY_TASK_ROUTES (the
# `queue` task attribute itself is deprecated in Celery 5 and ignored from 6).
_DECLARED_QUEUES: dict[str, str] = {}


def task(name: str, *, queue: str, aliases: tuple[str, ...] = (), **options):
    """Declare a Celery task named `<app>.<function>` on `queue`. Each of `aliases` (the names it
    had before) is registered too, so messages queued under an old name still run."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}: one of {QUEUES}")

    def register(fun: Callable):
        for each in (name, *aliases):
            _DECLARED_QUEUES[each] = queue
        for old_name in aliases:
            shared_task(name=old_name, **options)(fun)
        return shared_task(name=name, **options)(fun)

    return register


def declared_queue(name, args, kwargs, options, task=None, **kw) -> dict | None:
    """The Celery router (CELERY_TASK_ROUTES): each task to the queue its declaration names."""
    queue = _DECLARED_QUEUES.get(name)
    return {"queue": queue} if queue else None


def queue_of(name: str) -> str | None:
    return _DECLARED_QUEUES.get(name)


def retry_on(
    *errors: type[BaseException], max_retries: int, backoff_s: int = BACKOFF_S, backoff_max_s: int = BACKOFF_MAX_S
) -> dict:
    """Task options: retry `errors` (and nothing else) by the one policy, at most max_retries times."""
    return {
        "autoretry_for": errors,
        "retry_backoff": backoff_s,
        "retry_backoff_max": backoff_max_s,
        "retry_jitter": True,
        "max_retries": max_retries,
    }


def retry_countdown(retries: int, backoff_s: int = BACKOFF_S, backoff_max_s: int = BACKOFF_MAX_S) -> int:
    """The policy's delay before retry number retries + 1, for a task that retries itself because
    its last attempt must record something (the same formula Celery's autoretry uses)."""
    return get_exponential_backoff_interval(backoff_s, retries, backoff_max_s, full_jitter=True)


def enqueue(task, *args, queue: str | None = None, on_failure: Callable[[Exception], None] | None = None) -> bool:
    """Publish now. A broker outage is logged and handed to on_failure (which records it on the
    row), never raised: what the caller saved stays saved."""
    try:
        task.apply_async(args=list(args), retry=True, **({"queue": queue} if queue else {}))
        return True
    except Exception as exc:  # noqa: BLE001 - kombu raises many connection error types
        log.warning("could not enqueue %s%s (%s)", task.name, args, exc)
        if on_failure is not None:
            on_failure(exc)
        return False


def enqueue_on_commit(
    task, *args, queue: str | None = None, on_failure: Callable[[Exception], None] | None = None
) -> None:
    """Publish once the current transaction commits (at once outside one): a worker never looks
    for a row that is not there yet, and a rolled-back row publishes nothing."""
    transaction.on_commit(lambda: enqueue(task, *args, queue=queue, on_failure=on_failure))
