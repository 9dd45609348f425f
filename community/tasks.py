"""Celery tasks of the community app: id in, one service call, the contract on the decorator.
Services enqueue through `dwca_export_enqueue` (after commit); this module imports no service that
enqueues, so tasks and services never import each other."""

from __future__ import annotations

from community.export_writer import dwca_export_fail, dwca_export_write
from core.jobs import EXPORTS_QUEUE, TRANSIENT_ERRORS, enqueue_on_commit, retry_countdown, task

EXPORT_ATTEMPTS = 3


@task(
    "community.write_dwca_export",
    queue=EXPORTS_QUEUE,  # its own worker: alerts on "default" never wait behind an archive
    bind=True,
    acks_late=True,  # redelivered if the worker dies; the service is idempotent
    reject_on_worker_lost=True,
    max_retries=EXPORT_ATTEMPTS - 1,  # transient errors (database, storage) only, with backoff
)
def write_dwca_export(self, export_id: int) -> str:
    try:
        return dwca_export_write(export_id=export_id)
    except TRANSIENT_ERRORS as exc:  # retried by the one policy; the last attempt says so on the row
        if self.request.retries >= self.max_retries:
            dwca_export_fail(export_id=export_id, reason=f"gave up after {EXPORT_ATTEMPTS} attempts: {exc}")
            raise
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries)) from exc
    except Exception as exc:  # a bug, not a blip: say so on the row instead of leaving it queued
        dwca_export_fail(export_id=export_id, reason=f"the export failed: {type(exc).__name__}")
        raise


def dwca_export_enqueue(*, export_id: int) -> None:
    """Publish the export job after commit; a broker outage fails the row with the reason (ask again later)."""
    enqueue_on_commit(
        write_dwca_export,
        export_id,
        on_failure=lambda exc: dwca_export_fail(
            export_id=export_id, reason="the job queue is unavailable; ask for the export again"
        ),
    )
