"""GET /healthz: the database answers and the range data is loaded (these decide the status), and what
the web process can see of the rest: the broker and the classifying workers' heartbeat. Those two are
asked in parallel within REDIS_BUDGET_S, so a hung Redis never makes /healthz slow; they are reported,
not failed on (the broker and the workers have their own healthchecks in docker-compose.yml)."""

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from celery import current_app
from django.db import connection
from django.http import JsonResponse

from classifier.inference import HEARTBEAT_TTL_S, last_heartbeat_age_s
from classifier.models import ModelVersion
from ranges.models import Region

REDIS_BUDGET_S = 0.6
_askers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="healthz")


def _broker() -> str:
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
    return "ok"


def _worker() -> dict:
    age = last_heartbeat_age_s()
    if age is None:
        return {"status": "no heartbeat yet"}
    return {"status": "ok" if age <= HEARTBEAT_TTL_S else "stale", "last_heartbeat_s": round(age, 1)}


def _ask(future, budget_s: float):
    try:
        return future.result(timeout=budget_s)
    except FutureTimeout:
        return f"no answer within {budget_s}s"
    except Exception as exc:  # noqa: BLE001 - a health check reports, never raises
        return f"error: {exc.__class__.__name__}"


def healthz(request):
    deadline = time.monotonic() + REDIS_BUDGET_S
    broker, worker = _askers.submit(_broker), _askers.submit(_worker)
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - a health check reports, never raises
        checks["database"] = f"error: {exc.__class__.__name__}"
    healthy = checks["database"] == "ok"
    if healthy:
        checks["regions"] = Region.objects.count()
        checks["active_model"] = ModelVersion.objects.filter(is_active=True).values_list("name", flat=True).first()
    checks["broker"] = _ask(broker, max(0.0, deadline - time.monotonic()))
    checks["inference_worker"] = _ask(worker, max(0.0, deadline - time.monotonic()))
    return JsonResponse({"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503)
