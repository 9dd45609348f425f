"""Schemathesis against the generated OpenAPI schema (docs/reliability.md R15): no server error, every
status documented, for positive and negative data. Bounded to keep CI fast."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, status_code_conformance

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


pytestmark = pytest.mark.slow(reason="schemathesis generates hundreds of requests: about 100 s in all")


@pytest.fixture
def auth_header(db):
    from rest_framework.authtoken.models import Token

    from tests.factories import UserFactory

    token, _ = Token.objects.get_or_create(user=UserFactory(username="fuzzer"))
    return {"Authorization": f"Token {token.key}"}


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_r15_schemathesis_positive_and_negative(case, auth_header):
    case.call_and_validate(headers=auth_header, checks=[not_a_server_error, status_code_conformance])
