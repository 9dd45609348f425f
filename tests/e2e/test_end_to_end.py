"""End to end on real processes: a photo in, species and verdict out.

Two topologies: production-like (PostgreSQL + Redis on 127.0.0.1) and the embedded default
(SQLite + the file-system broker). Each starts migrate, bootstrap, a Celery worker and the web server (backend.launcher).
"""

import uuid

import pytest

from tests.conftest import shared_path
from tests.e2e.stack import reachable, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ELEPHANT_TAXA = {"Loxodonta africana", "Loxodonta", "Elephantidae"}


def exercise(stack):
    photos = shared_path("photos", "speciesnet_test_images")
    elephant = photos / "african_elephants.jpg"

    # Serengeti: an elephant, native, with facts.
    response = stack.upload(elephant, latitude=-2.33, longitude=34.83)
    assert response.status_code in (200, 202), response.text
    result = response.json() if response.json()["status"] == "done" else stack.result(response.headers["Location"])
    assert result["status"] == "done", result
    assert result["predictions"][0]["key"] in ELEPHANT_TAXA
    assert result["identification"]["taxon"]["scientific_name"] in ELEPHANT_TAXA
    assert result["verdict"]["status"] == "native"
    assert result["species_info"]["summary"]
    assert result["model_version"].startswith("starter-")

    # The same photo in Florida: not expected there. The starter model gives the elephant too little
    # on its own for an alert (DESIGN §5.6), so "please verify", with Florida's contacts, for review.
    florida = stack.result(stack.upload(elephant, latitude=27.5, longitude=-81.5).headers["Location"])
    assert florida["verdict"]["status"] == "uncertain" and "please verify" in florida["verdict"]["explanation"]
    assert florida["alert"]["level"] == "possible"
    assert florida["alert"]["contacts"] and {c["region"] for c in florida["alert"]["contacts"]} == {"US-FL"}

    # A truncated photo: a typed failure, never a 500.
    broken = stack.upload(photos / "african_elephants_truncated_file.jpg", latitude=-2.33, longitude=34.83)
    assert broken.status_code in (200, 202, 400)
    if broken.status_code != 400:
        failed = stack.result(broken.headers["Location"])
        assert failed["status"] == "failed" and failed["failure"]["code"] == "image_corrupt"

    # Verdicts without a photo.
    miami = stack.get("/api/v1/check/", taxon="Pterois volitans", lat=25.76, lon=-80.19).json()
    assert miami["verdict"]["status"] == "invasive"
    assert any(c["region"] == "US-FL" for c in miami["alert"]["contacts"])
    manila = stack.get("/api/v1/check/", taxon="Pterois volitans", lat=14.6, lon=120.98).json()
    assert manila["verdict"]["status"] == "native"


def test_production_topology_postgres_and_redis(tmp_path):
    if not (reachable("127.0.0.1", 5432) and reachable("127.0.0.1", 6379)):
        pytest.skip("needs PostgreSQL and Redis on 127.0.0.1 (CI starts them)")
    import psycopg
    import redis

    name = f"rangewatch_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    redis.Redis(db=9).flushdb()
    try:
        with running_stack(
            tmp_path, database_url=f"postgres://postgres@127.0.0.1:5432/{name}", broker_url="redis://127.0.0.1:6379/9"
        ) as stack:
            exercise(stack)
    finally:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_embedded_default_sqlite_and_filesystem_broker(tmp_path):
    with running_stack(tmp_path, database_url=None, broker_url=None, bootstrap_args=()) as stack:
        exercise(stack)
