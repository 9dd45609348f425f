"""The demo account that bootstrap makes can log in with the password it prints (once)."""

import pytest
from rest_framework.test import APIClient

from backend.installation import demo_user_ensure


@pytest.mark.django_db
def test_demo_user_logs_in_with_the_printed_password_and_keeps_it_on_rerun():
    first = demo_user_ensure()
    response = APIClient().post("/api/v1/auth/login/", {"username": "demo", "password": first.password}, format="json")
    assert first.password and response.status_code == 200 and response.json()["token"]
    again = demo_user_ensure()  # bootstrap is re-run: same token, password not reset (not printed again)
    assert again.password is None and again.token == first.token
    wrong = APIClient().post("/api/v1/auth/login/", {"username": "demo", "password": "guess"}, format="json")
    assert wrong.status_code == 400 and wrong.json()["error"]["detail"] == "unknown username or wrong password"
