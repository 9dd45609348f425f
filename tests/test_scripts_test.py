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


def test_scripts_test_with_arguments_says_what_happens_to_the_postgres_pass(tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "test", tmp_path / "scripts" / "test")
    _stand_in(tmp_path / "scripts" / "setup")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("ruff", "lint-imports"):
        _stand_in(bin_dir / tool)
    calls = tmp_path / "calls.log"
    _stand_in(bin_dir / "python", f'echo "$@" >> {calls}')

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
