"""The HTTP client's retries and typed errors, against a tiny real HTTP server that answers a script."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mobile_client_stub.api import NotAuthenticated, RangeWatchClient, RetryPolicy, TooLarge, Unavailable, parse_retry_after

DONE = {"id": "0b5c1c1e-0000-4000-8000-000000000001", "status": "done"}


@pytest.fixture
def scripted_server():
    """Answers each request with the next (status, headers, body) of `script`; records what it got."""
    state = {"script": [], "seen": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state["seen"].append({"path": self.path, "headers": dict(self.headers), "body": body})
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


def client_for(url, sleeps):
    return RangeWatchClient(url, "tok", retry=RetryPolicy(attempts=4, base=0.01, sleep=sleeps.append))


def test_upload_retries_429_and_503_with_the_same_idempotency_key_and_honours_retry_after(scripted_server):
    busy = {"error": {"code": "throttled", "detail": "slow down"}}
    scripted_server["script"] = [(429, {"Retry-After": "3"}, busy), (503, {"Retry-After": "1"}, busy), (200, {}, DONE)]
    sleeps = []
    result = client_for(scripted_server["url"], sleeps).upload(b"jpeg", "a.jpg", idempotency_key="key-1", latitude=-2.33, longitude=34.83, wait=5)
    assert result == DONE
    assert len(sleeps) == 2 and sleeps[0] >= 3 and sleeps[1] >= 1
    keys = {seen["headers"]["Idempotency-Key"] for seen in scripted_server["seen"]}
    assert keys == {"key-1"}
    assert all(seen["headers"]["Authorization"] == "Token tok" for seen in scripted_server["seen"])
    assert scripted_server["seen"][0]["path"].endswith("wait=5")
    assert b'name="latitude"' in scripted_server["seen"][0]["body"] and b"-2.330000" in scripted_server["seen"][0]["body"]


def test_gives_up_after_the_last_attempt_as_unavailable(scripted_server):
    scripted_server["script"] = [(503, {}, {"error": {"code": "unavailable", "detail": "down"}})] * 4
    sleeps = []
    with pytest.raises(Unavailable) as caught:
        client_for(scripted_server["url"], sleeps).observation("x")
    assert caught.value.status == 503 and len(sleeps) == 3


@pytest.mark.parametrize("status, error", [(401, NotAuthenticated), (413, TooLarge)])
def test_401_and_413_are_typed_and_not_retried(scripted_server, status, error):
    scripted_server["script"] = [(status, {}, {"error": {"code": "x", "detail": "no"}})]
    sleeps = []
    with pytest.raises(error):
        client_for(scripted_server["url"], sleeps).upload(b"j", "a.jpg", idempotency_key="k")
    assert sleeps == [] and len(scripted_server["seen"]) == 1


def test_network_errors_are_retried_then_reported():
    sleeps = []
    with pytest.raises(Unavailable) as caught:
        client_for("http://127.0.0.1:9", sleeps).observation("x")  # discard port: nothing listens
    assert caught.value.code == "network" and len(sleeps) == 3


def test_backoff_has_jitter_and_a_cap():
    policy = RetryPolicy(base=1, cap=5)
    delays = {round(policy.delay(6, None), 6) for _ in range(20)}
    assert len(delays) > 1 and max(delays) <= 5
    assert parse_retry_after("7") == 7 and parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0 and parse_retry_after("soon") is None
