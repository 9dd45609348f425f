"""Start the real product as processes (migrate, bootstrap, Celery worker, gunicorn) for e2e tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
# What scripts/run and docker-compose run for the inference queue: one process, task threads that
# decode in parallel and share one micro-batched forward pass.
INFERENCE_WORKER_ARGS = ("-P", "threads", "--concurrency", "16", "-I", "classifier.inference")
BIN = Path(sys.executable).parent


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


class PrivateRedis:
    """A redis-server of the caller's own on a free port (tests take it down and bring it back empty;
    benchmarks use it so that no other stack on this machine takes or flushes their jobs)."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not reachable("127.0.0.1", self.port):
            assert time.monotonic() < deadline, "redis did not start"
            time.sleep(0.05)

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


@contextmanager
def drill_services(prefix: str):
    """A PostgreSQL database and a redis-server of the drill's own (skipped without them), dropped and
    stopped afterwards: (database name, PrivateRedis)."""
    if not reachable("127.0.0.1", 5432):
        pytest.skip("needs PostgreSQL on 127.0.0.1 (CI starts it)")
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server to run a private broker")
    import psycopg

    name = f"rangewatch_{prefix}_{os.urandom(4).hex()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    broker = PrivateRedis()
    broker.start()
    try:
        yield name, broker
    finally:
        broker.stop()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Stack:
    def __init__(self, env: dict, base_url: str, token: str, var_dir: Path):
        self.env, self.base_url, self.token, self.var_dir = env, base_url, token, var_dir
        self.logs = var_dir.parent / "logs"
        self.worker: subprocess.Popen | None = None
        self.worker_args: list[str] = list(INFERENCE_WORKER_ARGS)
        self.worker_nice = 0

    def start_worker(self) -> subprocess.Popen:
        self.worker = subprocess.Popen(
            [
                *(["nice", "-n", str(self.worker_nice)] if self.worker_nice else []),
                str(BIN / "celery"),
                "-A",
                "backend",
                "worker",
                "-Q",
                "inference,inference-batch,default,exports",
                *self.worker_args,
                "--loglevel",
                "INFO",
            ],
            cwd=REPO,
            env=self.env,
            stdout=open(self.logs / "worker.log", "a"),
            stderr=subprocess.STDOUT,
        )
        return self.worker

    def stop_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.terminate()
            try:
                self.worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait()

    def manage(self, *args: str, timeout: int = 300) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    def upload(self, photo: Path, wait: float = 10, **fields):
        with open(photo, "rb") as fh:
            return requests.post(
                f"{self.base_url}/api/v1/observations/?wait={wait}",
                headers={"Authorization": f"Token {self.token}"},
                files={"photo": (photo.name, fh, "image/jpeg")},
                data=fields,
                timeout=wait + 30,
            )

    def result(self, location: str, wait: float = 10) -> dict:
        return requests.get(
            location, params={"wait": wait}, headers={"Authorization": f"Token {self.token}"}, timeout=wait + 30
        ).json()

    def get(self, path: str, **params):
        return requests.get(f"{self.base_url}{path}", params=params, timeout=30)


@contextmanager
def running_stack(
    tmp_path: Path,
    *,
    database_url: str | None,
    broker_url: str | None,
    bootstrap_args=("--skip-counties",),
    extra_env: dict | None = None,
    worker_args=INFERENCE_WORKER_ARGS,
    web_workers: int = 1,
    web_threads: int = 4,
    beat: bool = False,
    worker_nice: int = 0,
):
    var_dir = tmp_path / "var"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings.local",
        "RANGEWATCH_VAR_DIR": str(var_dir),
        "PYTHONUNBUFFERED": "1",
        # Every simulated person comes from 127.0.0.1: the per-address password throttles would
        # count them as one (backend.throttling); the per-account one stays as in production.
        "RANGEWATCH_REGISTER_ADDRESS_RATE": "100000/hour",
        "RANGEWATCH_LOGIN_ADDRESS_RATE": "100000/minute",
        **(extra_env or {}),
    }
    env.pop("TEST_DATABASE_URL", None)
    for key, value in (("DATABASE_URL", database_url), ("CELERY_BROKER_URL", broker_url)):
        if value:
            env[key] = value
        else:
            env.pop(key, None)
    stack = Stack(env, "", "", var_dir)
    stack.worker_args = list(worker_args)
    stack.worker_nice = worker_nice
    stack.logs.mkdir(parents=True, exist_ok=True)
    stack.manage("migrate", "--no-input", "-v0")
    out = stack.manage("bootstrap", *bootstrap_args)
    stack.token = out.split("API token: ")[1].split()[0]
    port = free_port()
    stack.base_url = f"http://127.0.0.1:{port}"
    stack.start_worker()
    others = [
        subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "backend.wsgi",
                "--env",
                "DJANGO_SETTINGS_MODULE=backend.settings.local",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(web_workers),
                "--threads",
                str(web_threads),
            ],
            cwd=REPO,
            env=env,
            stdout=open(stack.logs / "web.log", "w"),
            stderr=subprocess.STDOUT,
        )
    ]
    if beat:
        others.append(
            subprocess.Popen(
                [
                    str(BIN / "celery"),
                    "-A",
                    "backend",
                    "beat",
                    "-s",
                    str(var_dir / "beat-schedule"),
                    "--loglevel",
                    "INFO",
                ],
                cwd=REPO,
                env=env,
                stdout=open(stack.logs / "beat.log", "w"),
                stderr=subprocess.STDOUT,
            )
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{stack.base_url}/healthz", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.3)
        else:
            raise AssertionError("web never became healthy: " + (stack.logs / "web.log").read_text()[-2000:])
        yield stack
    finally:
        stack.stop_worker()
        for proc in others:
            proc.terminate()
        for proc in others:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
