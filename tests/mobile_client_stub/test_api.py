"""The HTTP client's retries (urllib3's Retry) and typed errors, and how a batch run meets throttling and
outages, against a tiny real HTTP server that answers a script."""

import pytest

from mobile_client_stub.api import NotAuthenticated, RangeWatchClient, TooLarge, Unavailable, retry_policy
from mobile_client_stub.batch import BatchOptions, BatchRun
from mobile_client_stub.journal import BatchJournal
from tests.mobile_client_stub.conftest import make_card

DONE = {"id": "0b5c1c1e-0000-4000-8000-000000000001", "status": "done"}
BUSY = {"error": {"code": "throttled", "detail": "slow down"}}


def client_for(url, attempts=4):
    return RangeWatchClient(url, "tok", retry=retry_policy(attempts=attempts, backoff_factor=0.01))


def test_upload_retries_429_and_503_with_the_same_idempotency_key_and_honours_retry_after(scripted_server):
    scripted_server["script"] = [(429, {"Retry-After": "1"}, BUSY), (503, {"Retry-After": "1"}, BUSY), (200, {}, DONE)]
    result = client_for(scripted_server["url"]).upload(
        b"jpeg", "a.jpg", idempotency_key="key-1", latitude=-2.33, longitude=34.83, wait=5
    )
    assert result == DONE
    seen = scripted_server["seen"]
    assert len(seen) == 3
    # Each resend waited at least the server's Retry-After (backoff alone would be ~0.01 s).
    assert seen[1]["at"] - seen[0]["at"] >= 0.95 and seen[2]["at"] - seen[1]["at"] >= 0.95
    assert {s["headers"]["Idempotency-Key"] for s in seen} == {"key-1"}
    assert all(s["headers"]["Authorization"] == "Token tok" for s in seen)
    assert seen[0]["path"].endswith("wait=5")
    assert b'name="latitude"' in seen[0]["body"] and b"-2.330000" in seen[0]["body"]
    assert seen[2]["body"] == seen[0]["body"]  # the same photo and fields resent


def test_gives_up_after_the_last_attempt_as_unavailable(scripted_server):
    scripted_server["script"] = [(503, {}, {"error": {"code": "unavailable", "detail": "down"}})] * 4
    with pytest.raises(Unavailable) as caught:
        client_for(scripted_server["url"], attempts=4).observation("x")
    assert caught.value.status == 503 and caught.value.code == "unavailable"
    assert len(scripted_server["seen"]) == 4


@pytest.mark.parametrize("status, error", [(401, NotAuthenticated), (413, TooLarge), (400, None)])
def test_4xx_answers_are_typed_and_not_retried(scripted_server, status, error):
    scripted_server["script"] = [
        (status, {"Retry-After": "1"}, {"error": {"code": "x", "detail": "no", "fields": {"photo": ["no"]}}})
    ]
    with pytest.raises(error or Exception) as caught:
        client_for(scripted_server["url"]).upload(b"j", "a.jpg", idempotency_key="k")
    assert len(scripted_server["seen"]) == 1
    assert caught.value.status == status and caught.value.code == "x" and caught.value.fields == {"photo": ["no"]}
    assert not isinstance(caught.value, Unavailable)


def test_network_errors_are_reported_as_unavailable():
    with pytest.raises(Unavailable) as caught:
        client_for("http://127.0.0.1:9").observation("x")  # discard port: nothing listens
    assert caught.value.code == "network" and caught.value.status == 0


def test_the_retry_policy_covers_posts_and_caps_retry_after():
    policy = retry_policy(attempts=5)
    assert policy.total == 4 and policy.is_retry("POST", 429) and policy.is_retry("POST", 503)
    assert not policy.is_retry("POST", 400, has_retry_after=True) and not policy.is_retry(
        "POST", 413, has_retry_after=True
    )
    assert policy.backoff_jitter > 0 and policy.retry_after_max == 300


QUEUED = {"id": "0b5c1c1e-0000-4000-8000-000000000002", "status": "queued"}


def _batch(server_url, tmp_path, attempts=2):
    journal = BatchJournal(tmp_path / "journal.sqlite3")
    options = BatchOptions(latitude=-2.33, longitude=34.83, wait=False, concurrency=1)
    return journal, BatchRun(journal, lambda: client_for(server_url, attempts=attempts), options)


def test_a_batch_waits_out_throttling_instead_of_giving_up(scripted_server, tmp_path):
    [image] = make_card(tmp_path / "card", 1)
    scripted_server["script"] = [(429, {"Retry-After": "1"}, BUSY)] * 3 + [(202, {}, QUEUED)]
    journal, run = _batch(scripted_server["url"], tmp_path)
    run.run([image])
    # Two attempts per upload call: the second call came after the server's Retry-After, not never.
    seen = scripted_server["seen"]
    assert len(seen) == 4 and all(b["at"] - a["at"] >= 0.95 for a, b in zip(seen, seen[1:]))
    assert {s["headers"]["Idempotency-Key"] for s in seen} == {journal.get(str(image.resolve())).idempotency_key}
    assert run.halted_by is None and journal.get(str(image.resolve())).state == "accepted"


def test_a_batch_stops_on_an_outage_and_keeps_the_image_to_resend(scripted_server, tmp_path):
    first, second = make_card(tmp_path / "card", 2)
    scripted_server["script"] = [(503, {}, {"error": {"code": "unavailable", "detail": "down"}})] * 2
    journal, run = _batch(scripted_server["url"], tmp_path)
    run.run([first, second])
    assert isinstance(run.halted_by, Unavailable) and run.halted_by.status == 503
    record = journal.get(str(first.resolve()))
    assert (record.state, record.error_code) == ("sending", "unavailable")  # it may have arrived: resent next run
    assert journal.get(str(second.resolve())) is None and len(scripted_server["seen"]) == 2


def test_medium_batch_client_sends_new_images_copied_over_old_paths(scripted_server, tmp_path):
    """Issue 23: the next card copied over the same names (RCNX0001.JPG) into the same --out sent 0
    images and showed the old results. The journal knows a file by its path and its content."""
    card = tmp_path / "card"
    first_card = make_card(card, 2, seed=1)
    scripted_server["script"] = [(202, {}, {**DONE, "id": f"0b5c1c1e-0000-4000-8000-00000000001{n}"}) for n in range(2)]
    journal, run = _batch(scripted_server["url"], tmp_path)
    run.run(first_card)
    old = {p.name: journal.get(str(p.resolve())) for p in first_card}
    assert {r.state for r in old.values()} == {"done"} and run.tally["sent"] == 2

    # The same files again: nothing is sent.
    again = BatchRun(journal, lambda: client_for(scripted_server["url"]), run.options)
    again.run(first_card)
    assert again.tally["already_finished"] == 2 and len(scripted_server["seen"]) == 2

    second_card = make_card(card, 2, seed=2)  # the next card, the same names
    scripted_server["script"] = [(202, {}, {**DONE, "id": f"0b5c1c1e-0000-4000-8000-00000000002{n}"}) for n in range(2)]
    rerun = BatchRun(journal, lambda: client_for(scripted_server["url"]), run.options)
    rerun.run(second_card)
    assert rerun.tally["sent"] == 2 and len(scripted_server["seen"]) == 4
    new_keys = {s["headers"]["Idempotency-Key"] for s in scripted_server["seen"][2:]}
    assert new_keys.isdisjoint({r.idempotency_key for r in old.values()})
    for path in second_card:
        record = journal.get(str(path.resolve()))
        assert record.state == "done" and record.observation_id.endswith(("20", "21"))
        assert record.idempotency_key in new_keys
