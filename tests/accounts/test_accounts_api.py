"""Accounts (knox tokens), the caller's own list, roles: docs/reliability.md R11 and R12."""

from datetime import timedelta

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.world import api_for, classified

pytestmark = pytest.mark.django_db


def test_register_login_logout_contract():
    anon = APIClient()
    registered = anon.post(
        "/api/v1/auth/register/",
        {"username": "mia", "password": "a-long-pass-phrase-9", "email": "mia@example.org"},
        format="json",
    )
    assert registered.status_code == 201
    assert set(registered.data) == {"token", "expiry", "user"} and set(registered.data["user"]) == {"id", "username"}
    assert registered.data["user"]["username"] == "mia" and registered.data["expiry"]

    login = anon.post("/api/v1/auth/login/", {"username": "mia", "password": "a-long-pass-phrase-9"}, format="json")
    assert login.status_code == 200 and set(login.data) == {"token", "expiry", "user"}
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {login.data['token']}")
    assert client.get("/api/v1/observations/").status_code == 200

    assert client.post("/api/v1/auth/logout/").status_code == 204
    # Revoked server-side: the same key no longer works; the other (registration) token still does.
    assert client.get("/api/v1/observations/").status_code == 401
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {registered.data['token']}")
    assert other.get("/api/v1/observations/").status_code == 200


def test_register_refuses_taken_username_and_weak_password():
    UserFactory(username="taken")
    anon = APIClient()
    taken = anon.post(
        "/api/v1/auth/register/", {"username": "taken", "password": "a-long-pass-phrase-9"}, format="json"
    )
    assert taken.status_code == 400 and "username" in taken.data["error"]["fields"]
    weak = anon.post("/api/v1/auth/register/", {"username": "new", "password": "123"}, format="json")
    assert weak.status_code == 400 and "password" in weak.data["error"]["fields"]
    wrong = anon.post("/api/v1/auth/login/", {"username": "taken", "password": "nope"}, format="json")
    assert wrong.status_code == 400


def test_expired_knox_token_is_refused():
    client = api_for(UserFactory(username="old"))
    AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/observations/").status_code == 401


def test_knox_authentication_is_one_query_and_expired_tokens_go_at_login():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.services import token_create

    user = UserFactory(username="many")
    _, stale_key = token_create(user=user)
    _, live_key = token_create(user=user)
    AuthToken.objects.filter(token_key=stale_key[:15]).update(expiry=timezone.now() - timedelta(seconds=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {live_key}")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/observations/").status_code == 200
    token_reads = [q for q in queries.captured_queries if "knox_authtoken" in q["sql"]]
    assert len(token_reads) == 1  # the token with its user; the user's other tokens are not read
    client.credentials(HTTP_AUTHORIZATION=f"Token {stale_key}")
    assert client.get("/api/v1/observations/").status_code == 401
    assert not AuthToken.objects.filter(token_key=stale_key[:15]).exists()  # refused and deleted
    _, other_stale = token_create(user=user)
    AuthToken.objects.filter(token_key=other_stale[:15]).update(expiry=timezone.now() - timedelta(seconds=1))
    token_create(user=user)  # a login
    assert not AuthToken.objects.filter(token_key=other_stale[:15]).exists()
    assert AuthToken.objects.filter(user=user).count() == 2


def test_drf_token_of_bootstrap_still_works():
    user = UserFactory(username="demo")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert client.get("/api/v1/observations/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token " + "f" * 40)
    assert client.get("/api/v1/observations/").status_code == 401


def test_r11_other_users_reports_are_404_and_lists_show_only_own(users, geo, model_version):
    alice, bob = api_for(users["alice"]), api_for(users["bob"])
    mine = classified(users["alice"], 7, 2, [("Testus nativus", 0.9)], model_version)
    queued = classified(users["alice"], 7, 2, [("Testus nativus", 0.9)], model_version)
    queued.__class__.objects.filter(pk=queued.pk).update(status="queued")
    classified(users["bob"], 7, 2, [("Testus nativus", 0.9)], model_version)
    url = f"/api/v1/observations/{mine.uuid}/"
    assert bob.get(url).status_code == 404
    assert bob.patch(url, {"geoprivacy": "open"}, format="json").status_code == 404
    assert bob.delete(url).status_code == 404
    assert bob.get(f"/api/v1/observations/{queued.uuid}/identifications/").status_code == 404
    assert (
        bob.post(
            f"/api/v1/observations/{queued.uuid}/identifications/", {"taxon": "Testus nativus"}, format="json"
        ).status_code
        == 404
    )
    assert bob.get(f"/api/v1/observations/{queued.uuid}/photo/").status_code == 404
    assert alice.get(url).status_code == 200
    listed = bob.get("/api/v1/observations/").data
    assert listed["count"] == 1 and all(item["id"] != str(mine.uuid) for item in listed["results"])
    assert alice.get("/api/v1/observations/").data["count"] == 2
    # The owner may change privacy and delete.
    assert alice.patch(url, {"geoprivacy": "private"}, format="json").data["citizen_science"]["geoprivacy"] == "private"
    assert alice.delete(url).status_code == 204 and alice.get(url).status_code == 404


def test_r12_anonymous_401_with_www_authenticate_and_roles_403(users, geo, model_version):
    observation = classified(users["alice"], 7, 2, [("Testus nativus", 0.9)], model_version)
    anon = APIClient()
    for method, url in [
        ("get", "/api/v1/observations/"),
        ("get", f"/api/v1/observations/{observation.uuid}/"),
        ("post", f"/api/v1/observations/{observation.uuid}/review/"),
        ("get", "/api/v1/review/queue/"),
        ("get", "/api/v1/exports/dwca/"),
        ("post", "/api/v1/auth/logout/"),
        ("get", f"/api/v1/observations/{observation.uuid}/photo/"),
    ]:
        response = getattr(anon, method)(url)
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"].startswith("Token"), url
    bob = api_for(users["bob"])
    assert (
        bob.post(f"/api/v1/observations/{observation.uuid}/review/", {"decision": "confirm"}, format="json").status_code
        == 403
    )
    assert bob.get("/api/v1/review/queue/").status_code == 403
    assert bob.get("/api/v1/exports/dwca/").status_code == 403
    rita = api_for(users["rita"])
    assert rita.get("/api/v1/review/queue/").status_code == 200
    assert (
        rita.get(f"/api/v1/observations/{observation.uuid}/").data["location"]["latitude"] == 7
    )  # reviewers see the exact point
    # Curation stays with admins: the Django admin refuses a plain user.
    assert bob.get("/admin/observations/observation/").status_code in (302, 403)


def test_r14_lists_paginated_with_a_ceiling(users, geo, model_version):
    for _ in range(3):
        classified(users["alice"], 7, 2, [("Testus nativus", 0.9)], model_version)
    alice = api_for(users["alice"])
    page = alice.get("/api/v1/observations/?limit=2").data
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    assert len(APIClient().get("/api/v1/feed/?limit=100000").data["results"]) == 3  # max_limit caps it
