"""Broker and database faults on real processes (issue 15, findings 4, 10 and 13): a private
redis-server that the test restarts or freezes (SIGSTOP), the thread-pool inference worker as
scripts/run and docker-compose.yml run it, and a test database whose connections the test drops
with pg_terminate_backend (the shared PostgreSQL server is never restarted)."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.conftest import shared_path
from tests.e2e.stack import BIN, REPO, PrivateRedis, free_port, reachable, running_stack
from tests.e2e.test_faults import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def redis_stack(tmp_path_factory):
    """SQLite, a private Redis as broker and cache, the thread-pool inference worker, beat (the sweeper)."""
    if subprocess.run(["which", "redis-server"], capture_output=True).returncode:
        pytest.skip("needs redis-server to run a private broker")
    broker = PrivateRedis()
    broker.start()
    tmp = tmp_path_factory.mktemp("redis-faults")
    env = {
        "CACHE_URL": f"redis://127.0.0.1:{broker.port}/1",
        "RANGEWATCH_SWEEP_INTERVAL_S": "2",
        "RANGEWATCH_SWEEP_QUEUED_AFTER_S": "3",
        "RANGEWATCH_WORKER_HEARTBEAT_FILE": str(tmp / "worker-heartbeat"),
    }
    try:
        with running_stack(
            tmp, database_url=None, broker_url=f"redis://127.0.0.1:{broker.port}/0", extra_env=env, beat=True
        ) as stack:
            stack.broker = broker
            yield stack
    finally:
        broker.stop()


def status_of(stack, location: str) -> str:
    return requests.get(location, headers={"Authorization": f"Token {stack.token}"}, timeout=10).json()["status"]


def small_photo(tmp_path: Path) -> Path:
    path = tmp_path / "small.jpg"
    Image.open(shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")).convert("RGB").resize(
        (640, 480)
    ).save(path)
    return path


def test_worker_heartbeat_feeds_the_container_healthcheck(redis_stack):
    """docker-compose.yml's worker healthcheck, run as written against this worker's heartbeat file."""
    import yaml

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    command = compose["x-worker-health"]["test"]
    heartbeat = redis_stack.env["RANGEWATCH_WORKER_HEARTBEAT_FILE"]
    probe = [part.replace("/tmp/worker-heartbeat", heartbeat) for part in command[1:]]
    probe[0] = sys.executable
    wait_for(lambda: os.path.exists(heartbeat), 30, "the first heartbeat")
    assert subprocess.run(probe, timeout=30).returncode == 0
    os.kill(redis_stack.worker.pid, signal.SIGSTOP)  # a stuck worker stops touching it
    try:
        os.utime(heartbeat, (time.time() - 60, time.time() - 60))
        time.sleep(3)
        assert subprocess.run(probe, timeout=30).returncode == 1
    finally:
        os.kill(redis_stack.worker.pid, signal.SIGCONT)
    wait_for(lambda: subprocess.run(probe, timeout=30).returncode == 0, 30, "the heartbeat after SIGCONT")


def test_redis_hung_upload_and_healthz_answer_fast(redis_stack, tmp_path):
    photo = small_photo(tmp_path)
    os.kill(redis_stack.broker.proc.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        response = redis_stack.upload(photo, wait=0, latitude=-2.33, longitude=34.83)
        upload_s = time.monotonic() - started
        started = time.monotonic()
        health = redis_stack.get("/healthz")
        healthz_s = time.monotonic() - started
    finally:
        os.kill(redis_stack.broker.proc.pid, signal.SIGCONT)
    assert response.status_code == 202 and upload_s < 2.5, (response.status_code, upload_s)
    assert health.status_code == 200 and healthz_s < 1.0, (health.status_code, healthz_s)
    # Redis is back: the upload whose publish timed out is re-sent by the sweeper and finishes.
    location = response.headers["Location"]
    assert (
        wait_for(
            lambda: status_of(redis_stack, location) in ("done", "failed") and status_of(redis_stack, location),
            90,
            "the job",
        )
        == "done"
    )


def test_redis_restart_mid_job_thread_pool_worker_survives(redis_stack, tmp_path):
    slow = tmp_path / "slow.webp"  # 42 MP: about two seconds of decoding, long enough to restart Redis mid-job
    Image.open(shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")).convert("RGB").resize(
        (7000, 6000)
    ).save(slow, "WEBP", quality=50, method=0)
    location = redis_stack.upload(slow, wait=0, latitude=-2.33, longitude=34.83).headers["Location"]
    wait_for(lambda: status_of(redis_stack, location) == "processing", 60, "the job to start")
    redis_stack.broker.stop()
    redis_stack.broker.start()
    assert (
        wait_for(
            lambda: status_of(redis_stack, location) in ("done", "failed") and status_of(redis_stack, location),
            90,
            "the job",
        )
        == "done"
    )
    time.sleep(3)  # the reconnect happens meanwhile; the old worker crashed here ("Unrecoverable error")
    assert redis_stack.worker.poll() is None, (redis_stack.logs / "worker.log").read_text()[-3000:]
    # The same worker process takes the next job from the restarted broker.
    after = redis_stack.upload(small_photo(tmp_path), wait=10, latitude=-2.33, longitude=34.83)
    assert after.status_code in (200, 202), after.text
    assert redis_stack.result(after.headers["Location"], wait=10)["status"] == "done"
    assert "Unrecoverable error" not in (redis_stack.logs / "worker.log").read_text()


def test_postgres_dropped_connections_feed_requests_succeed(tmp_path):
    """CONN_MAX_AGE keeps connections; after PostgreSQL drops them (as a restart does), each web
    thread's next request must not fail on its dead connection."""
    if not reachable("127.0.0.1", 5432):
        pytest.skip("needs PostgreSQL on 127.0.0.1 (CI starts it)")
    import psycopg

    name = f"rangewatch_pgdrop_{uuid.uuid4().hex[:8]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings.local",
        "RANGEWATCH_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
        "DATABASE_CONN_MAX_AGE": "60",
        "DJANGO_DEBUG": "False",
    }
    for key in ("CELERY_BROKER_URL", "CACHE_URL", "TEST_DATABASE_URL"):
        env.pop(key, None)
    port = free_port()
    web = None
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=REPO, env=env, check=True, timeout=300
        )
        web = subprocess.Popen(
            [str(BIN / "gunicorn"), "backend.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "8"],
            cwd=REPO,
            env=env,
            stdout=open(tmp_path / "web.log", "w"),
            stderr=subprocess.STDOUT,
        )
        feed = f"http://127.0.0.1:{port}/api/v1/feed/"
        wait_for(
            lambda: reachable("127.0.0.1", port) and requests.get(feed, timeout=10).status_code == 200,
            90,
            "the web server",
        )
        from concurrent.futures import ThreadPoolExecutor

        def burst():
            with ThreadPoolExecutor(16) as pool:
                return list(pool.map(lambda _: requests.get(feed, timeout=30).status_code, range(40)))

        assert burst().count(200) == 40  # every thread now holds a kept connection
        with psycopg.connect(admin, autocommit=True) as conn:
            dropped = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            ).fetchone()[0]
        assert dropped > 0
        codes = burst()
        assert codes.count(200) == 40, codes
    finally:
        if web is not None:
            web.terminate()
            web.wait(timeout=20)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
