"""One way to fail (core.errors): services raise ServiceError, every /api/ answer has one shape."""

import pytest
from rest_framework.test import APIClient

from core.api_errors import exception_handler
from core.errors import Conflict, NotFound, ServiceError


@pytest.mark.parametrize(
    "path", ["/api/v1/nope/", "/api/v2/observations/", "/api/", "/api/v1/observations/not-a-uuid/"]
)
def test_unrouted_api_paths_answer_the_json_error_shape(db, path):
    """Inputs: unknown endpoints, an unknown API version, the bare prefix, a malformed id."""
    response = APIClient().get(path)
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ServiceError("bad field", fields={"taxon": ["unknown taxon"]}), 400, "invalid"),
        (NotFound("no such observation"), 404, "not_found"),
        (Conflict("already identified"), 409, "conflict"),
        (ServiceError("no model", code="no_active_model", status=503), 503, "no_active_model"),
    ],
)
def test_service_errors_become_the_one_shape(error, status, code):
    response = exception_handler(error, {})
    assert response.status_code == status
    assert response.data["error"]["code"] == code and response.data["error"]["detail"] == error.detail
    assert response.data["error"].get("fields", {}) == error.fields
