"""The stuck-job sweeper's rules (docs/reliability.md, "Worker faults and memory" W6, W7): a dead
worker's jobs come back within the heartbeat's TTL; a job waiting in the broker is never re-sent.
The real-process drills are in tests/e2e/test_worker_faults.py."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from classifier import inference
from observations.classification import stuck_observations_sweep
from observations.models import Observation
from observations.services import observation_create
from tests.factories import UserFactory, jpeg_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_job(settings):
    owner = UserFactory(username="sam")

    def make(status="queued", *, age_s=0, published_age_s: float | None = 0, worker="", attempts=0, batch=False):
        photo = SimpleUploadedFile("p.jpg", jpeg_bytes(), content_type="image/jpeg")
        observation = observation_create(owner=owner, photo=photo, latitude=5, longitude=5, batch=batch).observation
        now = timezone.now()
        published = None if published_age_s is None else now - timedelta(seconds=published_age_s)
        Observation.objects.filter(pk=observation.pk).update(
            status=status,
            updated=now - timedelta(seconds=age_s),
            published_at=published,
            worker=worker,
            attempts=attempts,
        )
        return observation.pk

    return make


def test_w7_sweeper_never_resends_a_job_already_waiting_in_the_broker(make_job, settings):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
    waiting = make_job(age_s=120, published_age_s=120)  # queued 2 minutes: a backlog, not a loss
    refused = make_job(age_s=120, published_age_s=None)  # the broker was down at upload
    lost = make_job(age_s=900, published_age_s=900)  # published longer ago than the visibility timeout
    fresh = make_job(age_s=1)

    again, failed = stuck_observations_sweep(broker_backlog=40, queued_after_s=60)
    assert sorted(again) == sorted([(refused, False), (lost, False)]) and failed == 0
    # Sweep after sweep, the waiting job is left alone while the broker holds a backlog.
    assert stuck_observations_sweep(broker_backlog=40, queued_after_s=60) == ([], 0)
    # An empty inference queue holds nothing for it (Redis restarted empty): published again, once.
    assert stuck_observations_sweep(broker_backlog=0, queued_after_s=60) == ([(waiting, False)], 0)
    assert stuck_observations_sweep(broker_backlog=0, queued_after_s=60) == ([], 0)
    # The broker cannot be asked: nothing is published this round.
    Observation.objects.filter(pk=fresh).update(updated=timezone.now() - timedelta(seconds=120), published_at=None)
    assert stuck_observations_sweep(broker_backlog=None, queued_after_s=60) == ([], 0)
    assert Observation.objects.get(pk=fresh).status == "queued"


def test_w7_sweeper_publishes_a_batch_job_again_on_the_batch_queue_not_in_front_of_phones(make_job, monkeypatch):
    """A camera-trap frame the sweeper sends again stays behind interactive uploads."""
    from kombu.transport.memory import Channel

    from observations import tasks

    frame = make_job(age_s=120, published_age_s=None, batch=True)  # the broker refused it at upload
    phone = make_job(age_s=120, published_age_s=None)
    for name in (tasks.BATCH_QUEUE, "inference"):
        Channel.queues.pop(name, None)
    monkeypatch.setattr(tasks, "inference_backlog", lambda: 0)
    assert tasks.sweep_stuck_observations.apply().get() == {"requeued": 2, "failed": 0}
    waiting = {name: Channel.queues[name].qsize() for name in (tasks.BATCH_QUEUE, "inference")}
    assert waiting == {tasks.BATCH_QUEUE: 1, "inference": 1}
    assert Observation.objects.get(pk=frame).batch and not Observation.objects.get(pk=phone).batch


def test_w6_dead_workers_jobs_are_reclaimed_by_the_heartbeat_not_the_time_limit(make_job, settings):
    settings.CELERY_TASK_TIME_LIMIT = 180  # the old rule: processing for 210 s before any reclaim
    cache.set(inference._heartbeat_key("alive-host:11"), 1, timeout=inference.HEARTBEAT_TTL_S)
    ttl = inference.HEARTBEAT_TTL_S
    killed = make_job("processing", age_s=ttl + 5, worker="gone-host:12", attempts=1)
    busy = make_job("processing", age_s=ttl + 5, worker="alive-host:11", attempts=1)
    just_claimed = make_job("processing", age_s=1, worker="gone-host:12", attempts=1)
    last_chance = make_job("processing", age_s=ttl + 5, worker="gone-host:12", attempts=3)

    again, failed = stuck_observations_sweep(broker_backlog=3)
    assert again == [(killed, False)] and failed == 1
    reclaimed = Observation.objects.get(pk=killed)
    assert reclaimed.status == "queued" and reclaimed.worker == "" and reclaimed.published_at is not None
    assert Observation.objects.get(pk=busy).status == "processing"  # its worker still beats
    assert Observation.objects.get(pk=just_claimed).status == "processing"
    assert Observation.objects.get(pk=last_chance).failure_code == "timeout"
    assert inference.workers_alive({"alive-host:11", "gone-host:12"}) == {"alive-host:11"}


def test_w6_claim_records_the_worker_process(make_job, monkeypatch, tiny_artifact):
    from classifier.services import model_version_register
    from observations import tasks

    model_version_register(path=tiny_artifact, activate=True)
    monkeypatch.setattr(inference, "_identity", "host-a:4242")
    pk = make_job()
    seen = []
    real = inference.classify_photo

    def classify_and_look(data):
        seen.append(Observation.objects.values_list("status", "worker").get(pk=pk))
        return real(data)

    monkeypatch.setattr("observations.classification.classify_photo", classify_and_look)
    tasks.classify_observation.apply(args=[pk])
    assert seen == [("processing", "host-a:4242")]
