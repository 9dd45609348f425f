"""/healthz reports the database and data (its status), the broker and the workers' heartbeat."""

import time

import pytest
from django.db import connection
from django.test import Client

from classifier import inference
from classifier.inference import LAST_HEARTBEAT_KEY


@pytest.mark.django_db
def test_healthz_reports_broker_and_worker_heartbeat(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "health"}}
    answer = Client().get("/healthz").json()
    assert answer["status"] == "ok" and answer["checks"]["database"] == "ok"
    assert answer["checks"]["broker"] == "ok"  # the test broker (memory://) is reachable
    assert answer["checks"]["inference_worker"] == {"status": "no heartbeat yet"}

    inference._beat("classifier:worker-alive:test-host:1")  # what a classifying worker does every 5 s
    checks = Client().get("/healthz").json()["checks"]
    assert checks["inference_worker"]["status"] == "ok" and checks["inference_worker"]["last_heartbeat_s"] < 5

    from django.core.cache import cache

    cache.set(LAST_HEARTBEAT_KEY, time.time() - 60, timeout=None)  # the last worker died a minute ago
    assert Client().get("/healthz").json()["checks"]["inference_worker"]["status"] == "stale"


# scripts/test runs the tests marked `postgres` again on PostgreSQL when it is reachable.
needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="lock_timeout and statement_timeout live in PostgreSQL: scripts/test runs these again with "
    "TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/<name>",
)


@pytest.mark.postgres
@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_medium_no_database_timeouts_healthz_and_uploads_answer_under_a_held_table_lock(settings):
    """Issue 23: a 25 s table lock plus 20 uploads held every gunicorn thread (/healthz 24.6 s).
    Connections carry lock_timeout / statement_timeout / connect_timeout; /healthz answers within 1 s
    and says the database is slow; an upload waiting on the lock is answered 503 `database_busy`."""
    import psycopg
    from django.core.files.uploadedfile import SimpleUploadedFile
    from rest_framework.test import APIClient

    from tests.factories import UserFactory, jpeg_bytes

    with connection.cursor() as cursor:
        cursor.execute("SELECT name, setting FROM pg_settings WHERE name IN ('lock_timeout', 'statement_timeout')")
        assert dict(cursor.fetchall()) == {
            "lock_timeout": str(settings.RANGEWATCH_DB_LOCK_TIMEOUT_MS),
            "statement_timeout": str(settings.RANGEWATCH_DB_STATEMENT_TIMEOUT_MS),
        }
    assert connection.settings_dict["OPTIONS"]["connect_timeout"] == settings.RANGEWATCH_DB_CONNECT_TIMEOUT_S
    owner = UserFactory(username="dana")
    api = APIClient()
    api.force_authenticate(owner)

    params = connection.get_connection_params()
    params.pop("options", None)
    params.pop("cursor_factory", None)
    params.pop("context", None)
    holder = psycopg.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "password", "host", "port")})
    try:
        holder.execute("LOCK TABLE observations_observation, ranges_region IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        answer = Client().get("/healthz")
        took = time.monotonic() - started
        assert took < 1.0, took
        assert answer.status_code == 503
        body = answer.json()
        assert body["status"] == "degraded" and body["checks"]["database"].startswith("slow"), body

        started = time.monotonic()
        upload = api.post(
            "/api/v1/observations/",
            {
                "photo": SimpleUploadedFile("p.jpg", jpeg_bytes(), content_type="image/jpeg"),
                "latitude": 5,
                "longitude": 5,
            },
            format="multipart",
        )
        took = time.monotonic() - started
        assert upload.status_code == 503 and upload.json()["error"]["code"] == "database_busy", upload.content
        assert upload["Retry-After"] and took < settings.RANGEWATCH_DB_LOCK_TIMEOUT_MS / 1000 + 2, took
    finally:
        holder.rollback()
        holder.close()
    answer = Client().get("/healthz")
    assert answer.status_code == 200 and answer.json()["checks"]["database"] == "ok"
