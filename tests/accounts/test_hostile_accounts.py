"""What an outside attack found at the accounts endpoints (issue 15): unthrottled password
guessing and registration, unbounded tokens, tokens that outlive a password change or never expire."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.services import token_create
from backend.installation import demo_user_ensure
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-pass-phrase-9"


def _user(username="mia"):
    user = UserFactory(username=username)
    user.set_password(PASSWORD)
    user.save()
    return user


def _login(client, username, password, address="203.0.113.7"):
    return client.post(
        "/api/v1/auth/login/", {"username": username, "password": password}, format="json", REMOTE_ADDR=address
    )


def _assert_throttled(response):
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "throttled"


def test_high3_wrong_passwords_from_one_address_get_429_with_retry_after():
    _user()
    anon = APIClient()
    answers = [_login(anon, "mia", f"guess-{i}").status_code for i in range(10)]
    assert answers == [400] * 10
    _assert_throttled(_login(anon, "mia", "guess-10"))
    _assert_throttled(_login(anon, "someone-else", "guess"))  # the address is spent, whatever the name
    assert _login(anon, "mia", PASSWORD, address="198.51.100.1").status_code == 200  # another address is not


def test_high3_one_account_guessed_from_many_addresses_gets_429():
    _user()
    anon = APIClient()
    answers = [_login(anon, "mia", f"guess-{i}", address=f"198.51.100.{i}").status_code for i in range(20)]
    assert answers == [400] * 20
    _assert_throttled(_login(anon, "MIA", "guess", address="192.0.2.1"))  # the name case-folded
    assert _login(anon, "bob", "guess", address="192.0.2.1").status_code == 400  # other accounts are not


def test_high3_registrations_from_one_address_get_429():
    anon = APIClient()
    for i in range(10):
        made = anon.post(
            "/api/v1/auth/register/",
            {"username": f"bot{i}", "password": PASSWORD},
            format="json",
            REMOTE_ADDR="203.0.113.9",
        )
        assert made.status_code == 201
    refused = anon.post(
        "/api/v1/auth/register/", {"username": "bot10", "password": PASSWORD}, format="json", REMOTE_ADDR="203.0.113.9"
    )
    _assert_throttled(refused)
    assert not get_user_model().objects.filter(username="bot10").exists()


def test_high3_admin_login_form_is_throttled_too():
    admin = _user("root")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    browser = Client()
    for i in range(10):
        page = browser.post("/admin/login/", {"username": "root", "password": f"guess-{i}"}, REMOTE_ADDR="203.0.113.5")
        assert page.status_code == 200  # the form again, with its error
    refused = browser.post("/admin/login/", {"username": "root", "password": PASSWORD}, REMOTE_ADDR="203.0.113.5")
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert "_auth_user_id" not in browser.session
    assert browser.get("/admin/login/", REMOTE_ADDR="203.0.113.5").status_code == 200  # showing the form costs no hash


def test_low_token_limit_per_user_is_enforced_oldest_signed_out():
    user = _user()
    keys = [token_create(user=user)[1] for _ in range(25)]
    assert AuthToken.objects.filter(user=user).count() == 20
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {keys[0]}")
    assert client.get("/api/v1/observations/").status_code == 401  # the oldest app session went
    client.credentials(HTTP_AUTHORIZATION=f"Token {keys[-1]}")
    assert client.get("/api/v1/observations/").status_code == 200


def test_low_password_change_revokes_app_tokens():
    user = _user()
    _, key = token_create(user=user)
    Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/observations/").status_code == 200
    user.last_name = "Ng"
    user.save()  # a save that leaves the password alone signs nobody out
    assert client.get("/api/v1/observations/").status_code == 200
    user.set_password("another-long-pass-phrase-7")
    user.save()
    assert client.get("/api/v1/observations/").status_code == 401
    assert not AuthToken.objects.filter(user=user).exists() and not Token.objects.filter(user=user).exists()


def test_low_demo_drf_token_expires_and_bootstrap_replaces_it():
    demo = demo_user_ensure()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {demo.token}")
    assert client.get("/api/v1/observations/").status_code == 200
    Token.objects.filter(key=demo.token).update(created=timezone.now() - timedelta(days=31))
    expired = client.get("/api/v1/observations/")
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["detail"]
    renewed = demo_user_ensure()  # the next bootstrap prints a working token
    assert renewed.token != demo.token
    client.credentials(HTTP_AUTHORIZATION=f"Token {renewed.token}")
    assert client.get("/api/v1/observations/").status_code == 200


# Issue 23, Medium: any account could be locked for an hour by anyone.


@pytest.fixture
def clock(monkeypatch):
    """The login delays' clock, moved by hand."""
    import core.throttling

    now = [1_000_000.0]
    monkeypatch.setattr(core.throttling.time, "time", lambda: now[0])
    return now


def test_medium_lockout_owner_signs_in_from_another_address_after_twenty_wrong_passwords(clock):
    _user()
    anon = APIClient()
    # The probe: wrong passwords for a public user name, all from one address, for a while.
    answers = []
    for i in range(40):
        answers.append(_login(anon, "mia", f"guess-{i}", address="203.0.113.66").status_code)
        clock[0] += 3
    assert answers.count(400) >= 10 and 429 in answers
    assert _login(anon, "mia", PASSWORD, address="198.51.100.20").status_code == 200


def test_medium_lockout_only_real_password_checks_are_counted(clock):
    _user()
    anon = APIClient()
    # 10 checked, then 20 refused by the address throttle before any hash: those 20 are not failures.
    answers = [_login(anon, "mia", f"guess-{i}", address="203.0.113.66").status_code for i in range(30)]
    assert answers == [400] * 10 + [429] * 20
    # So the account has 10 failures: ten more new addresses are still checked, not refused.
    more = [_login(anon, "mia", "guess", address=f"198.51.100.{i}").status_code for i in range(10)]
    assert more == [400] * 10


def test_medium_lockout_growing_delays_not_a_hard_lock(clock):
    _user()
    anon = APIClient()
    for i in range(20):
        assert _login(anon, "mia", "guess", address=f"198.51.100.{i}").status_code == 400
    waits = []
    for i in range(4):
        refused = _login(anon, "mia", "guess", address=f"192.0.2.{i}")
        _assert_throttled(refused)
        waits.append(int(refused["Retry-After"]))
        clock[0] += waits[-1]
        assert _login(anon, "mia", "guess", address=f"192.0.2.{i}").status_code == 400  # checked after the wait
    assert waits == [1, 2, 4, 8]  # doubling, never an hour
    _assert_throttled(_login(anon, "mia", PASSWORD, address="192.0.2.99"))
    clock[0] += 16
    assert _login(anon, "mia", PASSWORD, address="192.0.2.99").status_code == 200


def test_medium_lockout_known_address_of_the_owner_is_not_delayed_by_a_botnet(clock):
    _user()
    anon = APIClient()
    assert _login(anon, "mia", PASSWORD, address="198.51.100.250").status_code == 200  # the owner's phone
    for i in range(40):
        _login(anon, "mia", "guess", address=f"203.0.113.{i}")
    _assert_throttled(_login(anon, "mia", PASSWORD, address="192.0.2.1"))  # a new address waits
    assert _login(anon, "mia", PASSWORD, address="198.51.100.250").status_code == 200
