"""GET /healthz: the database answers and the range data is loaded (these decide the status), and what
the web process can see of the rest: the broker and the classifying workers' heartbeat. Those two are
asked in parallel within REDIS_BUDGET_S, so a hung Redis never makes /healthz slow; they are reported,
not failed on (the broker and the workers have their own healthchecks in docker-compose.yml).

Status: "ok"; "degraded" (200) when a worker cannot load the active model; "degraded" (503) when the
database does not answer within DATABASE_BUDGET_MS (a held lock, a saturated server); "error" (503)
when it fails."""

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from celery import current_app
from django.core.cache import cache
from django.db import OperationalError, connection, transaction
from django.http import JsonResponse

from classifier.inference import HEARTBEAT_TTL_S, MODEL_UNAVAILABLE_KEY, last_heartbeat_age_s
from classifier.models import ModelVersion
from core.api_errors import database_busy
from observations.models import Observation
from ranges.models import Region

REDIS_BUDGET_S = 0.6
DATABASE_BUDGET_MS = 500
_askers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="healthz")


def _broker() -> str:
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
    return "ok"


def _worker() -> dict:
    age = last_heartbeat_age_s()
    if age is None:
        answer = {"status": "no heartbeat yet"}
    else:
        answer = {"status": "ok" if age <= HEARTBEAT_TTL_S else "stale", "last_heartbeat_s": round(age, 1)}
    unavailable = cache.get(MODEL_UNAVAILABLE_KEY)  # a worker cannot load the active model
    if unavailable:
        answer["status"] = "model unavailable"
        answer["model"] = unavailable["reason"]
    return answer


def _inference_broken(checks: dict) -> bool:
    worker = checks.get("inference_worker")
    return isinstance(worker, dict) and worker.get("status") == "model unavailable"


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
        checks.update(_database())
        checks["database"] = "ok"
    except OperationalError as exc:
        slow = database_busy(exc)
        checks["database"] = f"slow: no answer within {DATABASE_BUDGET_MS} ms" if slow else "error: OperationalError"
    except Exception as exc:  # noqa: BLE001 - a health check reports, never raises
        checks["database"] = f"error: {exc.__class__.__name__}"
    healthy = checks["database"] == "ok"
    checks["broker"] = _ask(broker, max(0.0, deadline - time.monotonic()))
    checks["inference_worker"] = _ask(worker, max(0.0, deadline - time.monotonic()))
    if not healthy:
        status = "degraded" if checks["database"].startswith("slow") else "error"
    else:
        status = "degraded" if _inference_broken(checks) else "ok"
    return JsonResponse({"status": status, "checks": checks}, status=200 if healthy else 503)


def _database() -> dict:
    """What the database says, each statement within DATABASE_BUDGET_MS on PostgreSQL: a held lock or
    a saturated server shows as `slow` at once instead of holding this request (issue 23: 24.6 s).
    Read only, and rolled back, so the short timeouts end with it."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"SET LOCAL statement_timeout = {DATABASE_BUDGET_MS}")
                cursor.execute(f"SET LOCAL lock_timeout = {DATABASE_BUDGET_MS}")
            cursor.execute("SELECT 1")
        answer = {
            "regions": Region.objects.count(),
            "active_model": ModelVersion.objects.filter(is_active=True).values_list("name", flat=True).first(),
        }
        # Uploads write here: a lock held on it stops them, so "slow" must see it too.
        list(Observation.objects.order_by().values_list("pk", flat=True)[:1])
        transaction.set_rollback(True)
    return answer
