"""One launcher (backend/launcher.py): scripts/run, docker-compose.yml, the end-to-end stack and the
benchmarks start the processes with its command lines, and bench/ needs nothing from tests/."""

from __future__ import annotations

import ast
import subprocess
import sys

from backend import launcher
from tests.conftest import REPO


def test_scripts_run_and_compose_start_every_process_through_the_launcher():
    for path in ("scripts/run", "docker-compose.yml", "tests/e2e/stack.py"):
        text = (REPO / path).read_text()
        assert "celery -A backend" not in text and "-P threads" not in text, f"{path} writes worker arguments itself"
    compose = (REPO / "docker-compose.yml").read_text()
    for process in ("gunicorn", "inference-worker", "default-worker", "beat"):
        assert f"python -m backend.launcher {process}" in compose
    run = (REPO / "scripts/run").read_text()
    for process in ("inference-worker", "default-worker", "web"):
        assert f"backend.launcher {process}" in run


def test_the_inference_worker_runs_threads_that_share_one_batch_and_warm_up():
    command = launcher.inference_worker()
    assert command[:3] == [str(launcher.BIN / "celery"), "-A", "backend"]
    assert command[command.index("-Q") + 1] == "inference,inference-batch"
    assert command[command.index("-P") + 1] == "threads" and command[command.index("-I") + 1] == "classifier.inference"
    printed = subprocess.run(
        [sys.executable, "-m", "backend.launcher", "--print", "inference-worker", "--concurrency", "64"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert printed == launcher.inference_worker(concurrency=64)


def test_a_drill_worker_with_its_own_pool_still_loads_the_warm_up_and_heartbeat_hooks():
    # worker_args replace the pool, not the imports: the prefork drill worker is an inference worker too.
    command = launcher.inference_worker(worker_args=("-P", "prefork", "-c", "1"))
    assert command[command.index("-P") + 1] == "prefork" and command[command.index("-c") + 1] == "1"
    assert command[command.index("-I") + 1] == "classifier.inference"
    # Celery keeps only the last -I: a module given already is joined to it, never dropped.
    command = launcher.inference_worker(worker_args=("-P", "prefork", "-I", "tests.e2e.slow_child_start"))
    assert command.count("-I") == 1
    assert command[command.index("-I") + 1] == "classifier.inference,tests.e2e.slow_child_start"
    assert launcher.inference_worker(worker_args=launcher.INFERENCE_WORKER_ARGS) == launcher.inference_worker()


def test_the_embedded_stack_serves_with_waitress_as_scripts_run_does():
    assert launcher.web(listen="127.0.0.1:1")[1:3] == ["-m", "backend.serve"]


def test_bench_imports_nothing_from_tests():
    for path in sorted((REPO / "bench").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n == "tests" or n.startswith("tests.") for n in names), f"{path.name} imports {names}"
