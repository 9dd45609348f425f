"""Celery tasks of the camera-trap app: one service call each."""

from cameratraps.services import batch_frames_release
from core.jobs import DEFAULT_QUEUE, task


@task("cameratraps.release_project_frames", queue=DEFAULT_QUEUE, acks_late=True, max_retries=0)  # beat
def release_project_frames() -> int:
    """Every project with held frames tops up its share of the batch queue (beat, each sweep interval)."""
    return batch_frames_release()
