"""The product as processes for the end-to-end tests: backend.launcher starts it (the same command
lines as scripts/run and docker-compose.yml); the drills add a database and a broker of their own."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager

import pytest

from backend.launcher import (  # noqa: F401 - the names the e2e tests import from here
    BIN,
    INFERENCE_WORKER_ARGS,
    REPO,
    PrivateRedis,
    Stack,
    free_port,
    reachable,
    running_stack,
)

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


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
