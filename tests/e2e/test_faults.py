"""Fault drills on real processes (docs/reliability.md R13, R19-R21): PostgreSQL, a private Redis the test
can stop and restart, a prefork Celery worker whose child the test SIGKILLs, beat running the sweeper."""

import io
import os
import signal
import time
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.conftest import shared_path
from tests.e2e.stack import drill_services, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def drill(tmp_path_factory):
    import psycopg

    with drill_services("drill") as (name, broker):
        env = {
            "RANGEWATCH_SWEEP_INTERVAL_S": "2",
            "RANGEWATCH_SWEEP_QUEUED_AFTER_S": "3",
            "RANGEWATCH_UPLOAD_RATE": "8/minute",
            "CACHE_URL": f"{broker.url}/1",
        }
        with running_stack(
            tmp_path_factory.mktemp("drill"),
            database_url=f"postgres://postgres@127.0.0.1:5432/{name}",
            broker_url=f"{broker.url}/0",
            extra_env=env,
            worker_args=("-P", "prefork", "-c", "1"),
            web_workers=2,
            beat=True,
        ) as stack:
            stack.db = psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True)
            stack.broker = broker
            yield stack
            stack.db.close()


@pytest.fixture(scope="module")
def slow_photo(tmp_path_factory) -> Path:
    """A 42-megapixel WebP (4.5 MB, under the upload cap): a genuine job that keeps the worker
    child busy decoding for about two seconds, long enough to kill it mid-classification."""
    path = tmp_path_factory.mktemp("photos") / "slow.webp"
    base = Image.open(shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")).convert("RGB")
    base.resize((7000, 6000), Image.Resampling.NEAREST).save(path, "WEBP", quality=50, method=0)
    return path


def small_photo(tmp_path: Path) -> Path:
    path = tmp_path / "small.jpg"
    Image.open(shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")).convert("RGB").resize(
        (640, 480)
    ).save(path)
    return path


def row(stack, observation_id):
    return stack.db.execute(
        "SELECT id, status, attempts, failure_code FROM observations_observation WHERE uuid = %s", (observation_id,)
    ).fetchone()


def predictions(stack, pk):
    return stack.db.execute("SELECT count(*) FROM observations_prediction WHERE observation_id = %s", (pk,)).fetchone()[
        0
    ]


def worker_children(stack) -> list[int]:
    main = stack.worker.pid
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == main:
                out.append(int(entry))
    return out


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def kill_child_while_processing(stack, observation_id, attempt):
    wait_for(
        lambda: (r := row(stack, observation_id)) and r[1] == "processing" and r[2] == attempt,
        90,
        f"attempt {attempt} to start",
    )
    for pid in worker_children(stack):
        os.kill(pid, signal.SIGKILL)


def test_r19_worker_sigkill_redelivered_once(drill, slow_photo):
    response = drill.upload(slow_photo, wait=0, latitude=-2.33, longitude=34.83)
    observation_id = response.json()["id"]
    kill_child_while_processing(drill, observation_id, attempt=1)
    result = wait_for(
        lambda: (r := row(drill, observation_id)) and r[1] in ("done", "failed") and r, 120, "the redelivered task"
    )
    pk, status, attempts, _ = result
    assert status == "done" and attempts == 2
    assert predictions(drill, pk) == 1


def test_r20_poison_image_bounded_deliveries_then_failed(drill, slow_photo, tmp_path):
    observation_id = drill.upload(slow_photo, wait=0, latitude=-2.33, longitude=34.83).json()["id"]
    for attempt in (1, 2, 3):
        kill_child_while_processing(drill, observation_id, attempt)
    pk, status, attempts, code = wait_for(
        lambda: (r := row(drill, observation_id)) and r[1] in ("done", "failed") and r, 120, "the poison job to fail"
    )
    assert status == "failed" and code == "too_many_attempts" and attempts == 3
    assert predictions(drill, pk) == 0
    # The queue keeps draining.
    after = drill.upload(small_photo(tmp_path), wait=0, latitude=-2.33, longitude=34.83).json()["id"]
    assert (
        wait_for(lambda: (r := row(drill, after)) and r[1] in ("done", "failed") and r[1], 90, "the next job") == "done"
    )


def test_r21_redis_down_at_upload_then_picked_up_by_the_sweeper(drill, tmp_path):
    drill.broker.stop()
    started = time.monotonic()
    response = drill.upload(small_photo(tmp_path), wait=0, latitude=-2.33, longitude=34.83)
    elapsed = time.monotonic() - started
    assert response.status_code == 202 and elapsed < 2.0, (response.status_code, elapsed)
    observation_id = response.json()["id"]
    assert row(drill, observation_id)[1] == "queued"  # the photo and the row are saved
    drill.broker.start()
    status = wait_for(
        lambda: (r := row(drill, observation_id)) and r[1] in ("done", "failed") and r[1],
        90,
        "the sweeper to re-enqueue",
    )
    assert status == "done"


def test_r21_redis_restarted_empty_each_job_completes_once(drill, tmp_path):
    drill.stop_worker()
    observation_id = drill.upload(small_photo(tmp_path), wait=0, latitude=-2.33, longitude=34.83).json()["id"]
    drill.broker.stop()  # the queued message is lost with it
    drill.broker.start()
    drill.start_worker()
    pk, status, *_ = wait_for(
        lambda: (r := row(drill, observation_id)) and r[1] in ("done", "failed") and r, 120, "the job after the restart"
    )
    assert status == "done" and predictions(drill, pk) == 1


def test_r13_upload_rate_limit_shared_by_two_web_processes(drill, tmp_path):
    token = (
        drill.manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token;"
            "u, _ = get_user_model().objects.get_or_create(username='ratelimited'); print(Token.objects.get_or_create(user=u)[0].key)",
        )
        .strip()
        .splitlines()[-1]
    )
    photo = small_photo(tmp_path).read_bytes()
    codes, retry_after = [], None
    for _ in range(10):
        response = requests.post(
            f"{drill.base_url}/api/v1/observations/",
            headers={"Authorization": f"Token {token}", "Connection": "close"},
            files={"photo": ("p.jpg", io.BytesIO(photo), "image/jpeg")},
            data={"latitude": 1, "longitude": 1},
            timeout=30,
        )
        codes.append(response.status_code)
        if response.status_code == 429:
            retry_after = response.headers.get("Retry-After")
    assert codes.count(202) == 8 and codes.count(429) == 2, codes
    assert retry_after and int(retry_after) > 0
    pids = {line.split()[0] for line in (drill.logs / "web.log").read_text().splitlines() if line.startswith("[")}
    assert len(pids) >= 1
