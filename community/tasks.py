"""Celery tasks of the community app: id in, one service call, the contract on the decorator.
Services enqueue through `dwca_export_enqueue` (after commit); this module imports no service that
enqueues, so tasks and services never import each other."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import DatabaseError, InterfaceError

from community.export_writer import dwca_export_fail, dwca_export_write

log = logging.getLogger(__name__)

TRANSIENT = (DatabaseError, InterfaceError, OSError)
EXPORT_ATTEMPTS = 3


@shared_task(
    bind=True,
    name="community.write_dwca_export",
    # queue: "exports" (CELERY_TASK_ROUTES): its own worker, so alerts on "default" never wait behind it
    acks_late=True,  # redelivered if the worker dies; the service is idempotent
    reject_on_worker_lost=True,
    max_retries=EXPORT_ATTEMPTS - 1,  # transient errors (database, storage) only, with backoff
)
def write_dwca_export(self, export_id: int) -> str:
    try:
        return dwca_export_write(export_id=export_id)
    except TRANSIENT as exc:
        if self.request.retries >= self.max_retries:
            dwca_export_fail(export_id=export_id, reason=f"gave up after {EXPORT_ATTEMPTS} attempts: {exc}")
            raise
        raise self.retry(exc=exc, countdown=5 * 2**self.request.retries) from exc
    except Exception as exc:  # a bug, not a blip: say so on the row instead of leaving it queued
        dwca_export_fail(export_id=export_id, reason=f"the export failed: {type(exc).__name__}")
        raise


def dwca_export_enqueue(*, export_id: int) -> bool:
    """Publish the export job; a broker outage fails the row with the reason (ask again later)."""
    try:
        write_dwca_export.apply_async(args=[export_id], retry=True)
        return True
    except Exception as exc:  # noqa: BLE001 - kombu raises many connection error types
        log.warning("could not enqueue export %s (%s)", export_id, exc)
        dwca_export_fail(export_id=export_id, reason="the job queue is unavailable; ask for the export again")
        return False
