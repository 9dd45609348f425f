"""Camera-trap projects on real processes: the MICA Camtrap DP sample imported with the command,
classified by a real inference worker from the batch queue, exported as a Camtrap DP package the
validator accepts (one machine classification per sequence); on Redis, phone uploads are
classified before a waiting batch."""

import csv
import shutil
import time
import uuid

import pytest
import requests

from tests.cameratraps.camtrap_dp_validator import validate_camtrap_dp
from tests.conftest import shared_path
from tests.e2e.stack import PrivateRedis, reachable, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
MICA = ("photos", "mica_invasive_camtrap_sample")


def project_frames(stack, project="mica") -> list[dict]:
    rows, url = [], f"{stack.base_url}/api/v1/projects/{project}/observations/?limit=200"
    while url:
        page = requests.get(url, headers={"Authorization": f"Token {stack.token}"}, timeout=30).json()
        rows += page["results"]
        url = page["next"]
    return rows


def wait_until_final(stack, expected: int, seconds: float = 120) -> list[dict]:
    deadline = time.monotonic() + seconds
    while True:
        frames = project_frames(stack)
        if len(frames) == expected and all(f["observation"]["status"] in ("done", "failed") for f in frames):
            return frames
        assert time.monotonic() < deadline, [f["observation"]["status"] for f in frames]
        time.sleep(0.5)


def test_mica_through_a_real_worker_exports_valid_camtrap_dp_with_one_classification_per_sequence(tmp_path):
    mica = shared_path(*MICA)
    with running_stack(tmp_path, database_url=None, broker_url=None) as stack:
        out = stack.manage("import_camera_traps", "--project", "mica", "--owner", "demo", "--camtrap-dp", str(mica))
        assert "frames imported and queued: 10" in out
        frames = wait_until_final(stack, expected=10)
        assert {f["observation"]["status"] for f in frames} == {"done"}
        assert all(f["observation"]["model_version"].startswith("starter-") for f in frames)
        stack.manage("export_camtrap_dp", str(tmp_path / "pkg"), "--project", "mica")

    assert validate_camtrap_dp(tmp_path / "pkg") == []
    with (tmp_path / "pkg" / "observations.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    machine = [r for r in rows if r["classificationMethod"] == "machine"]
    assert len(machine) == 1 and machine[0]["eventID"] == "62c200a9-1"  # the 10 frames are one 6 s burst
    # The starter model is unsure of these herons: a sequence of uncertain frames is "unknown" with no
    # name (issue 22), as a single uncertain photo is; a confident sequence is an animal, a blank one blank.
    assert machine[0]["observationType"] in ("animal", "blank", "unknown")
    if machine[0]["observationType"] == "unknown":
        assert machine[0]["scientificName"] == ""
    assert machine[0]["classifiedBy"].startswith("starter-")


def test_on_redis_phone_uploads_are_classified_before_a_waiting_batch(tmp_path):
    if not reachable("127.0.0.1", 5432) or not shutil.which("redis-server"):
        pytest.skip("needs PostgreSQL on 127.0.0.1 and redis-server (CI has both)")
    import psycopg

    mica = shared_path(*MICA)
    phone_photo = shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")
    name = f"rangewatch_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    broker = PrivateRedis()  # its own: no other stack on this machine takes (or flushes) these jobs
    broker.start()
    dsn = f"postgres://postgres@127.0.0.1:5432/{name}"
    # One task at a time, so the order in which the worker takes jobs is the order they finish.
    one_at_a_time = ("-P", "threads", "--concurrency", "1", "-I", "classifier.inference")
    try:
        with running_stack(
            tmp_path, database_url=dsn, broker_url=f"redis://127.0.0.1:{broker.port}/0", worker_args=one_at_a_time
        ) as stack:
            stack.stop_worker()
            stack.manage("import_camera_traps", "--project", "mica", "--owner", "demo", "--camtrap-dp", str(mica))
            phones = {stack.upload(phone_photo, wait=0, latitude=-2.33, longitude=34.83).json()["id"] for _ in range(3)}
            stack.start_worker()
            wait_until_final(stack, expected=10)
            for phone in phones:
                assert stack.result(f"{stack.base_url}/api/v1/observations/{phone}/")["status"] == "done"
            with psycopg.connect(dsn) as db:
                order = [str(u) for (u,) in db.execute("SELECT uuid FROM observations_observation ORDER BY updated")]
            # Both queues were full when the worker started: every phone first (kombu's default
            # round robin would have alternated phone, batch, phone, ...).
            assert set(order[:3]) == phones, order
    finally:
        broker.stop()
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
