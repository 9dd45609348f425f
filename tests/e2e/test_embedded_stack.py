"""The embedded stack as scripts/run supervises it (issue 23, Medium "the embedded stack"): a kill -9
of the inference worker once stopped the whole `scripts/run`, web included. Each process now runs
under `supervise` (scripts/supervise.sh), which starts a dead one again; nothing is lost."""

import os
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from tests.e2e.hostile import timed_get
from tests.e2e.stack import BIN, INFERENCE_WORKER_ARGS, REPO, running_stack
from tests.e2e.test_faults import wait_for

pytestmark = [pytest.mark.e2e]
SUPERVISE = REPO / "scripts" / "supervise.sh"


def supervised(name: str, log: Path, pid_dir: Path, *command: str, env=None) -> subprocess.Popen:
    """`supervise NAME LOG COMMAND...` in bash, as scripts/run starts each process."""
    script = f'source "{SUPERVISE}"; supervise "$@"'
    return subprocess.Popen(
        ["bash", "-c", script, "supervise", name, str(log), *command],
        cwd=REPO,
        env={**(env or os.environ), "SUPERVISE_PID_DIR": str(pid_dir)},
    )


def child_pid(pid_dir: Path, name: str) -> int | None:
    try:
        return int((pid_dir / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def test_medium_supervise_restarts_a_killed_child_and_stops_with_it(tmp_path):
    supervisor = supervised("sleeper", tmp_path / "sleeper.log", tmp_path, "sleep", "1000")
    try:
        first = wait_for(lambda: child_pid(tmp_path, "sleeper"), 10, "the first child")
        os.kill(first, signal.SIGKILL)
        second = wait_for(lambda: (pid := child_pid(tmp_path, "sleeper")) != first and pid, 10, "a new child")
        assert alive(second) and supervisor.poll() is None
        assert "supervise: sleeper" in (tmp_path / "sleeper.log").read_text()
    finally:
        supervisor.terminate()
        supervisor.wait(timeout=10)
    assert supervisor.returncode == 0
    wait_for(lambda: not alive(second), 5, "the child to stop with its supervisor")


def test_medium_scripts_run_supervises_every_process():
    run = (REPO / "scripts" / "run").read_text()
    assert "wait -n" not in run  # the first child to die no longer ends the script
    launches = [line for line in run.splitlines() if line.rstrip().endswith("&")]
    assert len(launches) == 4 and all(line.startswith("supervise ") or line.startswith("  nice") for line in launches)
    assert sum(line.startswith("supervise ") for line in run.splitlines()) == 4
    assert "launcher exports-worker" in run


@pytest.mark.slow
def test_medium_embedded_stack_kill_9_of_the_inference_worker_restarts_it_and_loses_nothing(tmp_path):
    """The embedded default (SQLite, the file-system broker, the file cache), the inference worker
    under `supervise`: kill -9 it with a job just accepted; /healthz keeps answering, a new worker
    takes over, and the job ends `done` (the sweeper returns a dead worker's claims)."""
    photo = tmp_path / "p.jpg"
    from PIL import Image

    Image.new("RGB", (640, 480), (120, 110, 90)).save(photo, "JPEG")
    env = {"RANGEWATCH_SWEEP_INTERVAL_S": "2", "RANGEWATCH_SWEEP_QUEUED_AFTER_S": "3"}
    with running_stack(tmp_path / "stack", database_url=None, broker_url=None, extra_env=env, beat=True) as stack:
        stack.stop_worker()  # started again below, supervised as scripts/run does
        pid_dir = tmp_path / "pids"
        pid_dir.mkdir()
        worker = supervised(
            "inference",
            stack.logs / "worker.log",
            pid_dir,
            str(BIN / "celery"),
            "-A",
            "backend",
            "worker",
            "-n",
            "inference@%h",
            "-Q",
            "inference,inference-batch,default",
            *INFERENCE_WORKER_ARGS,
            "--loglevel",
            "INFO",
            env=stack.env,
        )
        try:
            first = wait_for(lambda: child_pid(pid_dir, "inference"), 30, "the worker")
            accepted = stack.upload(photo, wait=0, latitude=-2.33, longitude=34.83)
            assert accepted.status_code == 202, accepted.text
            location = accepted.headers["Location"]
            os.kill(first, signal.SIGKILL)
            timings = [timed_get(f"{stack.base_url}/healthz", timeout=10) for _ in range(5)]
            assert all(code == 200 for _, code in timings) and max(s for s, _ in timings) < 1.0, timings
            second = wait_for(lambda: (pid := child_pid(pid_dir, "inference")) != first and pid, 20, "a new worker")
            assert worker.poll() is None and alive(second)

            def finished():
                body = requests.get(location, headers={"Authorization": f"Token {stack.token}"}, timeout=10).json()
                return body if body["status"] in ("done", "failed") else None

            body = wait_for(finished, 120, "the job accepted before the kill to finish")
            assert body["status"] == "done", body
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        assert not alive(second)
