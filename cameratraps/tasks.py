"""Celery tasks of the camera-trap app: one service call each."""

from celery import shared_task

from cameratraps.services import batch_frames_release


@shared_task(name="cameratraps.release_project_frames", acks_late=True, max_retries=0)  # queue: default; beat
def release_project_frames() -> int:
    """Every project with held frames tops up its share of the batch queue (beat, each sweep interval)."""
    return batch_frames_release()
