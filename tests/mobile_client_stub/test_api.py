"""The HTTP client's retries (urllib3's Retry) and typed errors, against a tiny real HTTP server that
answers a script."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mobile_client_stub.api import NotAuthenticated, RangeWatchClient, TooLarge, Unavailable, retry_policy

DONE = {"id": "0b5c1c1e-0000-4000-8000-000000000001", "status": "done"}
BUSY = {"error": {"code": "throttled", "detail": "slow down"}}


@pytest.fixture
def scripted_server():
    """Answers each request with the next (status, headers, body) of `script`; records what it got and when."""
    state = {"script": [], "seen": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state["seen"].append(
                {"path": self.path, "headers": dict(self.headers), "body": body, "at": time.monotonic()}
            )
            status, headers, payload = state["script"].pop(0)
            data = json.dumps(payload).encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()


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
