"""?wait: one poller per process answers every waiting request (observations.waiting)."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.files.base import ContentFile
from django.db import OperationalError, connection, transaction

from observations.models import Observation
from observations.waiting import StatusWatch, wait_for_final_status
from tests.factories import UserFactory, jpeg_bytes


def _observation(owner) -> Observation:
    observation = Observation(
        owner=owner, latitude=1.0, longitude=1.0, photo_format="JPEG", photo_width=64, photo_height=48
    )
    observation.photo.save("p.jpg", ContentFile(jpeg_bytes()), save=False)
    observation.save()
    return observation


def _finish_later(pk: int, status: str, after: float) -> threading.Thread:
    def finish():
        time.sleep(after)
        for _ in range(100):  # the in-memory test SQLite locks whole tables between connections
            try:
                Observation.objects.filter(pk=pk).update(status=status)
                break
            except OperationalError:
                time.sleep(0.01)
        connection.close()

    thread = threading.Thread(target=finish)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_many_waiters_are_woken_by_one_poller_each_with_its_own_status():
    owner = UserFactory()
    observations = [_observation(owner) for _ in range(6)]
    watch = StatusWatch(poll_s=0.02)
    results: dict[int, str | None] = {}

    def wait(pk):
        results[pk] = watch.wait(pk, 10)

    waiters = [threading.Thread(target=wait, args=(o.pk,)) for o in observations]
    for t in waiters:
        t.start()
    finishers = [_finish_later(o.pk, "failed" if i % 2 else "done", 0.1) for i, o in enumerate(observations)]
    started = time.monotonic()
    for t in waiters + finishers:
        t.join(15)
    assert results == {o.pk: "failed" if i % 2 else "done" for i, o in enumerate(observations)}
    assert time.monotonic() - started < 5  # woken by the poller, not by the 10 s timeout
    assert watch._waiting == {} and watch._final == {}  # nothing left behind


@pytest.mark.django_db(transaction=True)
def test_still_queued_times_out_with_none_and_processing_is_not_final():
    owner = UserFactory()
    observation = _observation(owner)
    Observation.objects.filter(pk=observation.pk).update(status="processing")
    watch = StatusWatch(poll_s=0.02)
    assert watch.wait(observation.pk, 0.2) is None
    assert watch.wait(987654, 0.1) is None  # a row that does not exist: nothing to wake


@pytest.mark.django_db(transaction=True)
def test_two_requests_waiting_on_the_same_observation_both_wake():
    observation = _observation(UserFactory())
    watch = StatusWatch(poll_s=0.02)
    results = []
    waiters = [threading.Thread(target=lambda: results.append(watch.wait(observation.pk, 10))) for _ in range(2)]
    for t in waiters:
        t.start()
    _finish_later(observation.pk, "done", 0.1).join()
    for t in waiters:
        t.join(15)
    assert results == ["done", "done"]


@pytest.mark.django_db
def test_inside_a_transaction_the_caller_polls_its_own_connection():
    # The test's transaction is not visible to the watcher's connection; the caller's is.
    with transaction.atomic():
        observation = _observation(UserFactory())
        Observation.objects.filter(pk=observation.pk).update(status="done")
        assert wait_for_final_status(observation.pk, 1) == "done"


@pytest.mark.django_db(transaction=True)
def test_the_poller_survives_a_database_error_and_answers_on_a_later_poll(monkeypatch):
    from django.db import DatabaseError

    import observations.waiting as waiting

    observation = _observation(UserFactory())
    Observation.objects.filter(pk=observation.pk).update(status="done")
    real_filter, failures = Observation.objects.filter, []

    def flaky_filter(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise DatabaseError("server closed the connection unexpectedly")
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(waiting.Observation.objects, "filter", flaky_filter)
    watch = StatusWatch(poll_s=0.02)
    assert watch.wait(observation.pk, 10) == "done"
    assert failures == [1] and watch._thread.is_alive()
