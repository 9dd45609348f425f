"""One way to fail: services, selectors and commands raise a `ServiceError`; the API answers every
error in one shape, `{"error": {"code", "detail", "fields"?}}` (backend/api_errors.py). This module
needs no web framework, so the worker and the commands start without loading DRF (~0.2 s)."""

from http import HTTPStatus


class ServiceError(Exception):
    """A typed, client-facing refusal. `code` is machine-readable; `fields` maps a field name to
    its messages; `status` is the HTTP status the API answers with."""

    status = HTTPStatus.BAD_REQUEST
    code = "invalid"

    def __init__(self, detail: str, *, code: str | None = None, fields: dict | None = None, status: int | None = None):
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.code
        self.fields = fields or {}
        self.status = status or self.status


class NotFound(ServiceError):
    """The thing does not exist, or the caller may not know it exists (others' rows: 404, not 403)."""

    status = HTTPStatus.NOT_FOUND
    code = "not_found"


class Conflict(ServiceError):
    """The request is valid but clashes with the current state (a concurrent write, a reused key)."""

    status = HTTPStatus.CONFLICT
    code = "conflict"


def error_body(code: str, detail: str, fields: dict | None = None) -> dict:
    body = {"error": {"code": code, "detail": detail}}
    if fields:
        body["error"]["fields"] = fields
    return body
