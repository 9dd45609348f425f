"""How the API answers errors: DRF's EXCEPTION_HANDLER and the catch-all for unrouted /api/ paths,
both in the one shape of backend/errors.py, whatever raised it (a service, DRF, the URL router)."""

from django.db import OperationalError
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from core.errors import ServiceError, error_body


def api_error(
    http_status: int, code: str, detail: str, fields: dict | None = None, headers: dict | None = None
) -> Response:
    return Response(error_body(code, detail, fields), status=http_status, headers=headers)


_CODES = {
    status.HTTP_400_BAD_REQUEST: "invalid",
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "permission_denied",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_406_NOT_ACCEPTABLE: "not_acceptable",
    status.HTTP_409_CONFLICT: "conflict",
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: "too_large",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
}


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: ServiceErrors and DRF's own exceptions in the one shape."""
    if isinstance(exc, ServiceError):
        return api_error(exc.status, exc.code, exc.detail, fields=exc.fields)
    if isinstance(exc, OperationalError) and database_busy(exc):
        # PostgreSQL's lock_timeout or statement_timeout (settings RANGEWATCH_DB_*): the thread is
        # freed and the client told to come back, instead of waiting as long as the lock (issue 23).
        set_rollback()
        return api_error(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "database_busy",
            "the database is busy; try again shortly",
            headers={"Retry-After": "5"},
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("invalid", "the request has invalid fields", fields)
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else str(response.data)
        response.data = error_body(_CODES.get(response.status_code, "error"), str(detail))
    return response


# PostgreSQL's lock_not_available (lock_timeout) and query_canceled (statement_timeout).
DATABASE_BUSY_CODES = ("55P03", "57014")


def database_busy(exc: Exception) -> bool:
    """A PostgreSQL timeout (not a lost connection or a bug) behind a Django database error."""
    cause = exc.__cause__
    return (getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)) in DATABASE_BUSY_CODES


def api_not_found(request, *args, **kwargs) -> JsonResponse:
    """Every unrouted /api/ path: the JSON error shape, not an HTML page."""
    return JsonResponse(error_body("not_found", f"no API endpoint at {request.path}"), status=404)
