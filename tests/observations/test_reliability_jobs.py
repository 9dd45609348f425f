"""Job reliability (docs/reliability.md R22-R25): transient errors retried with bounds, corrupt input never
retried, rolled-back uploads enqueue nothing, timeouts end typed, old jobs still served."""

import uuid
from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from classifier.services import model_version_register
from ml.images import ImageError
from observations import tasks
from observations.classification import MAX_ATTEMPTS
from observations.models import Observation
from observations.services import observation_create
from tests.factories import TaxonFactory, UserFactory, jpeg_bytes, region, status

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory(username="dana")


@pytest.fixture
def world(tiny_artifact):
    status(TaxonFactory(scientific_name="Testus nativus"), region("AAA", "country", (0, 0, 10, 10)), "native")
    model_version_register(path=tiny_artifact, activate=True)


def create(owner, data=None):
    photo = SimpleUploadedFile("p.jpg", data or jpeg_bytes(), content_type="image/jpeg")
    return observation_create(owner=owner, photo=photo, latitude=5, longitude=5).observation


def test_r22_task_contract_retries_transient_errors_only():
    task = tasks.classify_observation
    assert task.acks_late and task.reject_on_worker_lost
    assert task.max_retries == MAX_ATTEMPTS and task.retry_jitter and task.retry_backoff
    assert {OSError, DatabaseError} <= set(task.autoretry_for)
    assert not any(issubclass(ImageError, kind) for kind in task.autoretry_for)  # corrupt input: no retry


def test_r22_transient_storage_error_is_retried_then_succeeds(owner, world, monkeypatch):
    observation = create(owner)
    real_open, calls = FileSystemStorage.open, []

    def flaky_open(self, name, mode="rb"):
        calls.append(name)
        if len(calls) == 1:
            raise OSError("storage temporarily unavailable")
        return real_open(self, name, mode)

    monkeypatch.setattr(FileSystemStorage, "open", flaky_open)
    tasks.classify_observation.apply(args=[observation.pk])  # eager; autoretry re-runs in process
    observation.refresh_from_db()
    assert observation.status == "done" and len(calls) == 2


def test_r22_corrupt_input_is_not_retried(owner, world):
    data = jpeg_bytes(size=(400, 300))
    observation = create(owner, data[: len(data) // 2])
    result = tasks.classify_observation.apply(args=[observation.pk])
    observation.refresh_from_db()
    assert observation.status == "failed" and observation.failure_code == "image_corrupt"
    assert observation.attempts == 1 and result.state == "SUCCESS"


def test_r23_rolled_back_transaction_enqueues_nothing(owner, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                create(owner)
                raise RuntimeError("the caller's transaction fails after the upload")
    assert callbacks == [] and Observation.objects.count() == 0


def test_r24_soft_time_limit_ends_failed_timeout(owner, world, monkeypatch):
    observation = create(owner)

    def too_slow(data):
        raise SoftTimeLimitExceeded()  # what Celery raises inside the task at the soft limit

    monkeypatch.setattr("observations.classification.classify_photo", too_slow)
    tasks.classify_observation.apply(args=[observation.pk])
    observation.refresh_from_db()
    assert observation.status == "failed" and observation.failure_code == "timeout"


def test_r24_sweeper_never_leaves_a_job_in_processing(owner, world, settings):
    stuck = create(owner)
    Observation.objects.filter(pk=stuck.pk).update(
        status="processing", attempts=3, updated=timezone.now() - timedelta(hours=1)
    )
    retried = create(owner)
    Observation.objects.filter(pk=retried.pk).update(
        status="processing", attempts=1, updated=timezone.now() - timedelta(hours=1)
    )
    counts = tasks.sweep_stuck_observations.apply().get()
    stuck.refresh_from_db()
    retried.refresh_from_db()
    assert stuck.status == "failed" and stuck.failure_code == "timeout"
    assert retried.status == "queued" and counts == {"requeued": 1, "failed": 1}  # reclaimed: back in the queue


def test_r25_unknown_id_404_and_old_jobs_served_from_the_database(owner, world):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    assert api.get(f"/api/v1/observations/{uuid.uuid4()}/").status_code == 404
    old = create(owner)
    tasks.classify_observation.apply(args=[old.pk])
    Observation.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=400))
    response = api.get(f"/api/v1/observations/{old.uuid}/")
    assert response.status_code == 200 and response.json()["status"] == "done"


def test_r22_worker_keeps_database_connections_but_drops_broken_or_old_ones(monkeypatch):
    """Celery's Django fix-up would close the task thread's connection after every task (a new
    PostgreSQL connection per photo): CELERY_DB_REUSE_MAX turns that off, and backend.celery closes
    the obsolete or broken ones around each task instead (close_old_connections: CONN_MAX_AGE, and
    a connection that raised is dropped if unusable). Eager tasks run in the caller's transaction
    and are left alone."""
    import django.db
    from celery import signals
    from celery.fixups.django import DjangoWorkerFixup

    from backend.celery import app

    assert DjangoWorkerFixup(app).db_reuse_max >= 100
    calls = []
    monkeypatch.setattr(django.db, "close_old_connections", lambda: calls.append("closed"))

    class Task:  # what the signals carry: the task, and its request
        def __init__(self, eager):
            self.request = type("Request", (), {"is_eager": eager})()

    worker_task, eager_task = Task(eager=False), Task(eager=True)
    for signal in (signals.task_prerun, signals.task_postrun):
        signal.send(sender=worker_task, task=worker_task, task_id="t", args=(), kwargs={})
        signal.send(sender=eager_task, task=eager_task, task_id="t", args=(), kwargs={})
    assert calls == ["closed", "closed"]  # before and after the worker's task; never for the eager one
