"""One way to fail: services raise a `ServiceError`, the API answers one shape for every error,
`{"error": {"code", "detail", "fields"?}}`, whatever raised it (a service, DRF, an unrouted path)."""

from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ServiceError(Exception):
    """A typed, client-facing refusal. `code` is machine-readable; `fields` maps a field name to
    its messages; `status` is the HTTP status the API answers with."""

    status = status.HTTP_400_BAD_REQUEST
    code = "invalid"

    def __init__(self, detail: str, *, code: str | None = None, fields: dict | None = None, status: int | None = None):
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.code
        self.fields = fields or {}
        self.status = status or self.status


class NotFound(ServiceError):
    """The thing does not exist, or the caller may not know it exists (others' rows: 404, not 403)."""

    status = status.HTTP_404_NOT_FOUND
    code = "not_found"


class Conflict(ServiceError):
    """The request is valid but clashes with the current state (a concurrent write, a reused key)."""

    status = status.HTTP_409_CONFLICT
    code = "conflict"


def error_body(code: str, detail: str, fields: dict | None = None) -> dict:
    body = {"error": {"code": code, "detail": detail}}
    if fields:
        body["error"]["fields"] = fields
    return body


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


def api_not_found(request, *args, **kwargs) -> JsonResponse:
    """Every unrouted /api/ path: the JSON error shape, not an HTML page."""
    return JsonResponse(error_body("not_found", f"no API endpoint at {request.path}"), status=404)
