"""Worker faults and memory on real processes (docs/reliability.md, "Worker faults and memory" W3,
W6, W7): PostgreSQL, a private Redis (broker and shared cache), the thread-pool inference worker as
scripts/run and docker-compose start it, a default-queue worker and beat running the sweeper."""

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.conftest import shared_path
from tests.e2e.stack import BIN, INFERENCE_WORKER_ARGS, REPO, drill_services, running_stack
from tests.e2e.test_faults import predictions, small_photo, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    import psycopg

    with drill_services("workerfaults") as (name, broker):
        env = {
            "RANGEWATCH_SWEEP_INTERVAL_S": "2",
            "RANGEWATCH_SWEEP_QUEUED_AFTER_S": "3",
            "CACHE_URL": f"{broker.url}/1",  # the heartbeats live here
        }
        default_worker = None
        try:
            with running_stack(
                tmp_path_factory.mktemp("workerfaults"),
                database_url=f"postgres://postgres@127.0.0.1:5432/{name}",
                broker_url=f"{broker.url}/0",
                extra_env=env,
                worker_args=INFERENCE_WORKER_ARGS,  # -P threads: one process, no prefork child to lose
                web_workers=2,
                beat=True,
            ) as running:
                # The production topology's CPU worker: the sweeper runs while the inference worker is down.
                default_worker = subprocess.Popen(
                    [
                        str(BIN / "celery"),
                        "-A",
                        "backend",
                        "worker",
                        "-n",
                        "default@%h",
                        "-Q",
                        "default",
                        "-P",
                        "solo",
                        "--loglevel",
                        "INFO",
                    ],
                    cwd=REPO,
                    env=running.env,
                    stdout=open(running.logs / "worker-default.log", "w"),
                    stderr=subprocess.STDOUT,
                )
                running.db = psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True)
                running.broker = broker
                yield running
                running.db.close()
        finally:
            if default_worker is not None:
                default_worker.terminate()
                default_worker.wait(timeout=20)


@pytest.fixture(scope="module")
def slow_photo(tmp_path_factory) -> Path:
    """A 42-megapixel WebP (4.5 MB): about two seconds of decoding, a job to kill mid-way."""
    path = tmp_path_factory.mktemp("photos") / "slow.webp"
    base = Image.open(shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")).convert("RGB")
    base.resize((7000, 6000), Image.Resampling.NEAREST).save(path, "WEBP", quality=50, method=0)
    return path


def job(stack, observation_id):
    return stack.db.execute(
        "SELECT id, status, attempts, worker FROM observations_observation WHERE uuid = %s", (observation_id,)
    ).fetchone()


def derivative_files(stack) -> list[Path]:
    return sorted((stack.var_dir / "media" / "derivatives").rglob("*.*"))


def inference_messages(stack) -> int:
    """Messages waiting in the broker's inference queue (kombu keeps one Redis list per priority)."""
    import redis

    client = redis.Redis(port=stack.broker.port, db=0)
    return sum(client.llen(key) for key in client.keys("inference*") if client.type(key) == b"list")


def test_w3_eight_simultaneous_first_photo_requests_leave_one_file_and_delete_removes_it(stack, tmp_path):
    auth = {"Authorization": f"Token {stack.token}"}
    observation_id = stack.upload(small_photo(tmp_path), wait=10, latitude=-2.33, longitude=34.83).json()["id"]
    assert (
        wait_for(lambda: (r := job(stack, observation_id)) and r[1] in ("done", "failed") and r[1], 90, "the verdict")
        == "done"
    )
    url = f"{stack.base_url}/api/v1/observations/{observation_id}/photo/"
    answers, start = [], threading.Barrier(8)

    def first_request():
        start.wait()
        answers.append(requests.get(url, headers=auth, timeout=60))

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * 8 and len({a.content for a in answers}) == 1
    assert len(derivative_files(stack)) == 1  # built once, by the worker
    assert (
        requests.delete(f"{stack.base_url}/api/v1/observations/{observation_id}/", headers=auth, timeout=30).status_code
        == 204
    )
    assert wait_for(lambda: not derivative_files(stack), 10, "the derivative to be deleted with the observation")


def test_w7_sweeper_never_resends_a_job_already_waiting_in_the_broker(stack, tmp_path):
    stack.stop_worker()  # a backlog: the jobs wait in the broker, the sweeper keeps sweeping
    ids = [stack.upload(small_photo(tmp_path), wait=0, latitude=-2.33, longitude=34.83).json()["id"] for _ in range(5)]
    assert inference_messages(stack) == 5
    time.sleep(12)  # queued for 4x RANGEWATCH_SWEEP_QUEUED_AFTER_S: six sweeps
    assert inference_messages(stack) == 5, "the sweeper re-sent jobs that were waiting in the broker"
    stack.start_worker()
    for observation_id in ids:
        pk, status, attempts, _ = wait_for(
            lambda: (r := job(stack, observation_id)) and r[1] in ("done", "failed") and r, 120, "the backlog"
        )
        assert (status, attempts, predictions(stack, pk)) == ("done", 1, 1)


def test_w6_sigkill_of_the_thread_pool_worker_mid_batch_is_reclaimed_within_30_s(stack, slow_photo):
    ids = [stack.upload(slow_photo, wait=0, latitude=-2.33, longitude=34.83).json()["id"] for _ in range(3)]
    wait_for(lambda: all(job(stack, i)[1] == "processing" for i in ids), 90, "the batch to be processing")
    killed = stack.worker.pid
    assert {job(stack, i)[3] for i in ids} == {f"{socket.gethostname()}:{killed}"}  # the row names the worker
    os.kill(killed, signal.SIGKILL)
    stack.worker.wait()
    killed_at = time.monotonic()
    stack.start_worker()  # what a supervisor does; its broker session knows nothing of the lost jobs
    reclaimed_after = {}
    while len(reclaimed_after) < len(ids) and time.monotonic() - killed_at < 60:
        for observation_id in ids:
            if (
                observation_id not in reclaimed_after
                and job(stack, observation_id)[3] != f"{socket.gethostname()}:{killed}"
            ):
                reclaimed_after[observation_id] = time.monotonic() - killed_at
        time.sleep(0.2)
    assert len(reclaimed_after) == len(ids) and max(reclaimed_after.values()) <= 30, reclaimed_after
    print(
        f"reclaimed {len(ids)} jobs {min(reclaimed_after.values()):.1f}-{max(reclaimed_after.values()):.1f} s after the SIGKILL"
    )
    for observation_id in ids:
        pk, status, attempts, worker = wait_for(
            lambda: (r := job(stack, observation_id)) and r[1] in ("done", "failed") and r, 120, "the reclaimed job"
        )
        assert (status, attempts, predictions(stack, pk)) == ("done", 2, 1)
        assert worker == f"{socket.gethostname()}:{stack.worker.pid}"
