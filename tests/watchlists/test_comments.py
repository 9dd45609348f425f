"""Comments on a list's records (GBIF Alert's users comment on observations): the list's owner and
members write and read them, anyone else finds no list; text rules; the triage history as before."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory
from tests.world import api_for, classified
from watchlists.matching import observation_matches_sync
from watchlists.models import Match, MatchComment, MatchStatusChange
from watchlists.services import CommentRejected, match_comment_add, watch_list_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def record(geo, users, model_version):
    """Alice's list over AAA with bob as a member, and one upload in it."""
    watch_list = watch_list_create(
        owner=users["alice"], name="Aland invaders", regions=["AAA"], rule="invasive_here", match_existing=False
    )
    watch_list.members.add(users["bob"])
    upload = classified(users["rita"], 2, 2, [("Testus invasor", 0.97)], model_version)
    observation_matches_sync(observation_id=upload.pk)
    match = Match.objects.get(watch_list=watch_list)
    return watch_list, match, f"/api/v1/watchlists/{watch_list.pk}/matches/{match.pk}/comments/"


def test_the_owner_and_a_member_comment_and_read_the_conversation(users, record):
    """Inputs: POST {"text": ...} by the owner, then by a member (with spaces around it); GET by
    both; the record's page of matches (its comments count)."""
    watch_list, match, url = record
    alice, bob = api_for(users["alice"]), api_for(users["bob"])
    first = alice.post(url, {"text": "Seen near the weir; team out tomorrow."}, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["author"] == "alice" and first.json()["text"] == "Seen near the weir; team out tomorrow."
    second = bob.post(url, {"text": "  Trap set.  "}, format="json")
    assert second.status_code == 201 and second.json()["text"] == "Trap set."
    for client in (alice, bob):
        page = client.get(url).json()
        assert page["count"] == 2
        assert [(c["author"], c["text"]) for c in page["results"]] == [
            ("alice", "Seen near the weir; team out tomorrow."),
            ("bob", "Trap set."),
        ]
    (body,) = alice.get(f"/api/v1/watchlists/{watch_list.pk}/matches/").json()["results"]
    assert body["comments"] == 2
    assert alice.get(f"/api/v1/watchlists/{watch_list.pk}/matches/{match.pk}/").json()["comments"] == 2


def test_a_stranger_and_an_unknown_record_get_404_in_the_error_shape(geo, users, model_version, record):
    """Inputs: GET and POST by a user who is neither owner nor member (a reviewer too); GET of a
    match id that is not in the list, and of another list's match."""
    watch_list, match, url = record
    MatchComment.objects.create(match=match, author=users["alice"], text="internal note")
    for stranger in (UserFactory(username="stan"), users["rita"]):
        client = api_for(stranger)
        for answer in (client.get(url), client.post(url, {"text": "hello"}, format="json")):
            assert answer.status_code == 404
            assert answer.json() == {"error": {"code": "not_found", "detail": "no such watch list"}}
    assert MatchComment.objects.count() == 1
    alice = api_for(users["alice"])
    unknown = alice.get(f"/api/v1/watchlists/{watch_list.pk}/matches/999999/comments/")
    assert unknown.status_code == 404
    assert unknown.json() == {"error": {"code": "not_found", "detail": "no such match in this list"}}
    other = watch_list_create(
        owner=users["bob"], name="bob's", regions=["AAA"], rule="invasive_here", match_existing=False
    )
    upload = classified(users["rita"], 3, 3, [("Testus invasor", 0.97)], model_version)
    observation_matches_sync(observation_id=upload.pk)
    foreign = Match.objects.get(watch_list=other, observation=upload)
    answer = alice.post(f"/api/v1/watchlists/{watch_list.pk}/matches/{foreign.pk}/comments/", {"text": "x"})
    assert answer.status_code == 404 and not MatchComment.objects.filter(match=foreign).exists()


@pytest.mark.parametrize(
    "body, field_says",
    [
        ({"text": ""}, "blank"),
        ({"text": "   \n "}, "blank"),
        ({}, "required"),
        ({"text": "x" * 5001}, "5000"),
    ],
)
def test_empty_or_too_long_text_is_a_400(users, record, body, field_says):
    """Inputs: text "", only white space, no text at all, 5,001 characters."""
    _, _, url = record
    answer = api_for(users["alice"]).post(url, body, format="json")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid" and field_says in str(answer.json()["error"]["fields"]["text"])
    assert not MatchComment.objects.exists()


def test_5000_characters_are_kept_and_the_service_refuses_what_the_api_refuses(users, record):
    """Inputs: 5,000 characters through the API; "" and 5,001 characters to the service itself."""
    _, match, url = record
    assert api_for(users["alice"]).post(url, {"text": "y" * 5000}, format="json").status_code == 201
    for text, says in (("  ", "some text"), ("z" * 5001, "at most 5000")):
        with pytest.raises(CommentRejected, match=says) as refused:
            match_comment_add(match=match, author=users["alice"], text=text)
        assert refused.value.code == "invalid_comment" and refused.value.status == 400
    assert MatchComment.objects.count() == 1


def test_the_triage_history_is_what_it_was(users, record):
    """Inputs: PATCH {"status": "handling", "note": ...}, a comment, PATCH {"status": "managed"}:
    the history has the two status changes only, the comment is not one of them."""
    watch_list, match, url = record
    alice = api_for(users["alice"])
    detail = f"/api/v1/watchlists/{watch_list.pk}/matches/{match.pk}/"
    assert alice.patch(detail, {"status": "handling", "note": "checking"}, format="json").status_code == 200
    assert alice.post(url, {"text": "a comment, not a status"}, format="json").status_code == 201
    after = alice.patch(detail, {"status": "managed"}, format="json").json()
    assert after["status"] == "managed" and after["note"] == "checking" and after["comments"] == 1
    assert [(h["status"], h["note"], h["by"]) for h in after["history"]] == [
        ("handling", "checking", "alice"),
        ("managed", "checking", "alice"),
    ]
    assert MatchStatusChange.objects.filter(match=match).count() == 2


def test_the_comments_count_is_one_query_for_the_page(geo, users, model_version, record):
    """Input: the page of matches with one record, then with four records each commented: the
    comments are counted by one query either way."""
    watch_list, match, _ = record
    alice = api_for(users["alice"])
    page = f"/api/v1/watchlists/{watch_list.pk}/matches/"
    with CaptureQueriesContext(connection) as one:
        alice.get(page)
    for lon in (3, 4, 5):
        upload = classified(users["rita"], 2, lon, [("Testus invasor", 0.97)], model_version)
        observation_matches_sync(observation_id=upload.pk)
    for m in Match.objects.filter(watch_list=watch_list):
        MatchComment.objects.create(match=m, author=users["bob"], text="noted")
    with CaptureQueriesContext(connection) as four:
        results = alice.get(page).json()["results"]
    assert len(results) == 4 and {r["comments"] for r in results} == {1}
    for captured in (one, four):
        assert sum("watchlists_matchcomment" in q["sql"] for q in captured.captured_queries) == 1
