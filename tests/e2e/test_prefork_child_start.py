"""R19/R20 on a prefork worker: the child that replaces a lost one warms up in worker_process_init
and reports up to the pool only afterwards. With Celery's default of 4 s for that, a replacement
whose warm-up took longer (the range index and the model, on a busy machine) was SIGKILLed and
replaced by another that met the same end, so the worker never ran a task again."""

import os
import re
import shutil
import signal
import subprocess

import pytest

from backend.launcher import REPO, PrivateRedis, inference_worker
from core.jobs import DEFAULT_QUEUE
from tests.e2e.test_faults import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SLOW_CHILD_START_S = 6  # longer than Celery's default 4 s for a child to report up


def started_children(log) -> list[int]:
    return [int(pid) for pid in re.findall(r"\bchild (\d+) started$", log.read_text(), flags=re.M)]


@pytest.fixture
def broker():
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server to run a private broker")
    with PrivateRedis() as redis:
        yield redis


def test_r19_a_replacement_child_that_warms_up_longer_than_celerys_default_is_not_killed(tmp_path, broker):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings.local",
        "RANGEWATCH_VAR_DIR": str(tmp_path / "var"),
        "PYTHONUNBUFFERED": "1",
        # Redis as in production and the drills: the pool's event loop is what kills a child that
        # is late to report up (the file-system broker's polling loop never does).
        "CELERY_BROKER_URL": f"{broker.url}/0",
        "SLOW_CHILD_START_S": str(SLOW_CHILD_START_S),
    }
    for name in ("DATABASE_URL", "TEST_DATABASE_URL"):
        env.pop(name, None)  # SQLite under var/: nothing shared with other tests
    # The drills' worker (prefork, one child) on the default queue only: the inference warm-up stays
    # out of it, the slow start stands in for it.
    command = inference_worker(
        queues=(DEFAULT_QUEUE,), worker_args=("-P", "prefork", "-c", "1", "-I", "tests.e2e.slow_child_start"), name=None
    )
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(command, cwd=REPO, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    try:
        first = wait_for(lambda: started_children(log), 120, "the first child")[0]
        os.kill(first, signal.SIGKILL)
        replacement = wait_for(
            lambda: [pid for pid in started_children(log) if pid != first] or worker.poll() is not None,
            120,
            "a replacement child to finish its start",
        )
        assert worker.poll() is None, log.read_text()[-3000:]
        assert len(replacement) == 1
        assert "Timed out waiting for UP message" not in log.read_text()
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
