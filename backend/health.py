"""GET /healthz: the database answers and the range data is loaded. It never touches Redis, so a hung
broker cannot slow it (the broker has its own healthcheck in docker-compose.yml)."""

from django.db import connection
from django.http import JsonResponse

from classifier.models import ModelVersion
from ranges.models import Region


def healthz(request):
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
    return JsonResponse({"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503)
