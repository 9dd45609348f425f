"""Issue 22: `scripts/test ARGS` silently skipped the PostgreSQL pass. It now runs the selected tests
marked postgres on PostgreSQL, or says why it does not. Run on a copy of the script with stand-in tools,
so that only the script's own decisions are tested."""

import os
import shutil
import socket
import stat
import subprocess

from tests.conftest import REPO


def _postgres_answers() -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", 5432)) == 0


def _stand_in(path, body="exit 0"):
    path.write_text(f"#!/usr/bin/env bash\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def _copy_with_stand_ins(tmp_path):
    """scripts/test copied into tmp_path with stand-ins for setup, ruff, lint-imports and python; the
    stand-in python writes its arguments to the returned log, one call a line."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "test", tmp_path / "scripts" / "test")
    _stand_in(tmp_path / "scripts" / "setup")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("ruff", "lint-imports"):
        _stand_in(bin_dir / tool)
    calls = tmp_path / "calls.log"
    _stand_in(bin_dir / "python", f'echo "$@" >> {calls}')
    return calls


def test_scripts_test_with_arguments_says_what_happens_to_the_postgres_pass(tmp_path):
    calls = _copy_with_stand_ins(tmp_path)

    run = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "test"), "tests/ranges", "-k", "verdict"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": os.environ["PATH"]},
    )
    assert run.returncode == 0, run.stderr
    assert "PostgreSQL pass" in run.stdout + run.stderr, run.stdout + run.stderr  # never silent
    ran = calls.read_text().splitlines()
    if _postgres_answers():
        assert ran[-1] == "-m pytest -q tests/ranges -k verdict -m postgres", ran
    else:
        assert "nothing answers on 127.0.0.1:5432" in run.stdout + run.stderr
        assert ran == ["-m pytest tests/ranges -k verdict"]


def test_scripts_test_runs_the_whole_suite_on_xdist_workers_and_chosen_tests_in_one_process(tmp_path):
    """The whole suite runs on pytest-xdist workers grouped by file (--dist loadfile); a run of
    chosen tests stays in one process; RANGEWATCH_TEST_WORKERS overrides both (0: one process)."""
    calls = _copy_with_stand_ins(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("RANGEWATCH_TEST_WORKERS", "TEST_DATABASE_URL")}

    def first_pytest_call(*args, **extra_env) -> str:
        calls.write_text("")
        run = subprocess.run(
            ["bash", str(tmp_path / "scripts" / "test"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**env, **extra_env},
        )
        assert run.returncode == 0, run.stderr
        return calls.read_text().splitlines()[0]

    assert (
        first_pytest_call() == "-m pytest -n 3 --dist loadfile --no-loadscope-reorder --ignore=tests/test_api_fuzz.py"
    )
    # Schemathesis's 44 cases share one node id, which xdist reports once: that file runs after, in one process.
    assert calls.read_text().splitlines()[1] == "-m pytest -q tests/test_api_fuzz.py"
    assert (
        first_pytest_call("--fast")
        == "-m pytest -n 3 --dist loadfile --no-loadscope-reorder -m not e2e and not slow --ignore=tests/test_api_fuzz.py"
    )
    assert first_pytest_call("tests/ranges") == "-m pytest tests/ranges"
    assert (
        first_pytest_call("tests/ranges", RANGEWATCH_TEST_WORKERS="2")
        == "-m pytest -n 2 --dist loadfile --no-loadscope-reorder tests/ranges"
    )
    assert first_pytest_call(RANGEWATCH_TEST_WORKERS="0") == "-m pytest"
