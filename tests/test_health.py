"""/healthz reports the database and data (its status), the broker and the workers' heartbeat."""

import time

import pytest
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
