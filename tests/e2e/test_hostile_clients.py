"""Hostile clients against real servers (issue 15, findings 1 and 2): sockets that trickle their
headers, and one user holding many parallel `?wait` requests. The embedded server is started as
scripts/run starts it (backend.serve); the production front is nginx with deploy/nginx in front of
gunicorn. Each check times /healthz while the attack runs."""

import contextlib
import io
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from PIL import Image

from tests.e2e.hostile import NGINX, SlowHeaderClients, nginx_front, timed_get
from tests.e2e.stack import BIN, REPO, free_port, reachable

pytestmark = [pytest.mark.e2e]


def wait_healthy(base_url: str, log) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base_url}/healthz", timeout=5, verify=False).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError("server never became healthy: " + log.read_text()[-2000:])


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """The embedded default's web server over a migrated SQLite database, with an account, its
    token and one uploaded photo left `queued` (no worker runs: the job never finishes)."""
    tmp = tmp_path_factory.mktemp("embedded")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings.local",
        "RANGEWATCH_VAR_DIR": str(tmp / "var"),
        "DJANGO_DEBUG": "False",
    }
    for key in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "TEST_DATABASE_URL"):
        env.pop(key, None)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--no-input", "-v0"], cwd=REPO, env=env, check=True, timeout=300)
    token = subprocess.run(
        [
            *manage,
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token;"
            "u = get_user_model().objects.create_user('waiter', password='x' * 12);"
            "print(Token.objects.create(user=u).key)",
        ],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.split()[-1]
    port = free_port()
    log = tmp / "web.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "backend.serve", "--listen", f"127.0.0.1:{port}", "--threads", "8"],
        cwd=REPO,
        env=env,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, log)
        photo = io.BytesIO()
        Image.new("RGB", (320, 240), (120, 110, 90)).save(photo, "JPEG")
        upload = requests.post(
            f"{base_url}/api/v1/observations/",
            headers={"Authorization": f"Token {token}"},
            files={"photo": ("p.jpg", photo.getvalue(), "image/jpeg")},
            data={"latitude": -2.33, "longitude": 34.83},
            timeout=30,
        )
        assert upload.status_code == 202, upload.text
        yield {
            "base_url": base_url,
            "port": port,
            "token": token,
            "location": upload.headers["Location"],
            "env": env,
            "tmp": tmp,
        }
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_slow_headers_embedded_server_keeps_answering(embedded):
    with SlowHeaderClients("127.0.0.1", embedded["port"], count=32):
        timings = [timed_get(f"{embedded['base_url']}/healthz", timeout=10) for _ in range(5)]
    assert all(status == 200 for _, status in timings), timings
    assert max(seconds for seconds, _ in timings) < 1.0, timings


def test_medium_600_slow_header_sockets_from_one_address_leave_the_embedded_server_answering(embedded):
    """Issue 23: 600 slow-header sockets exhausted waitress's 512 connections (/healthz 0 of 4). One
    address holds at most RANGEWATCH_CONNECTIONS_PER_ADDRESS (64) connections; the attack comes
    from 127.0.0.2, the probes from 127.0.0.1."""
    with SlowHeaderClients("127.0.0.1", embedded["port"], count=600, interval=2.0, source="127.0.0.2"):
        timings = [timed_get(f"{embedded['base_url']}/healthz", timeout=10) for _ in range(4)]
        extra = socket.create_connection(("127.0.0.1", embedded["port"]), timeout=5, source_address=("127.0.0.2", 0))
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        refused = extra.recv(200)
        extra.close()
    assert all(status == 200 for _, status in timings), timings
    assert max(seconds for seconds, _ in timings) < 1.0, timings
    assert refused.startswith(b"HTTP/1.1 503") and b"too many connections from this address" in refused


def test_parallel_waits_one_user_leave_healthz_fast(embedded):
    headers = {"Authorization": f"Token {embedded['token']}"}

    def hold(_):
        started = time.monotonic()
        response = requests.get(embedded["location"], params={"wait": 10}, headers=headers, timeout=30)
        return time.monotonic() - started, response.status_code, response.headers.get("Retry-After")

    with ThreadPoolExecutor(24) as pool:
        holds = [pool.submit(hold, n) for n in range(24)]
        time.sleep(1.0)
        timings = [timed_get(f"{embedded['base_url']}/healthz", timeout=15) for _ in range(5)]
        answers = [h.result() for h in holds]
    assert all(status == 200 for _, status in timings), timings
    assert max(seconds for seconds, _ in timings) < 1.0, timings
    held = [a for a in answers if a[0] >= 5]
    assert len(held) <= 2, answers  # RANGEWATCH_WAIT_HOLDS_PER_USER
    assert all(code == 200 and retry_after for _, code, retry_after in answers), answers


@pytest.mark.skipif(NGINX is None, reason="needs nginx (apt-get install nginx-light) to run deploy/nginx")
def test_slow_headers_behind_nginx_proxy_keep_gunicorn_free(embedded, tmp_path):
    with _gunicorn_behind_nginx(embedded["env"], tmp_path) as (https_url, http_url):
        https_port = int(https_url.rsplit(":", 1)[1])
        with SlowHeaderClients("127.0.0.1", https_port, count=32, tls=True):
            timings = [timed_get(f"{https_url}/healthz", timeout=10, verify=False) for _ in range(5)]
        assert all(status == 200 for _, status in timings), timings
        assert max(seconds for seconds, _ in timings) < 1.0, timings
        # Plain http only redirects to https.
        assert requests.get(f"{http_url}/healthz", allow_redirects=False, timeout=5).status_code == 301


@contextlib.contextmanager
def _gunicorn_behind_nginx(env: dict, tmp_path):
    """gunicorn as docker-compose.yml runs it (one process here: 8 threads), reached only through
    deploy/nginx; yields nginx's (https_url, http_url)."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    gunicorn = subprocess.Popen(
        [str(BIN / "gunicorn"), "backend.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "8"],
        cwd=REPO,
        env=env,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", log)
        with nginx_front(f"127.0.0.1:{port}", tmp_path / "nginx") as urls:
            yield urls
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=20)


def _slow_body_uploads(host: str, port: int, count: int, source: str) -> list[bytes]:
    """`count` TLS connections, opened at ~7 a second, that send an upload's headers and one byte of
    its body, then wait: requests in progress, as limit_conn counts them. What each got back within 2 s (b"" if nothing)."""
    import ssl

    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    sockets = []
    for _ in range(count):
        sock = context.wrap_socket(socket.create_connection((host, port), timeout=5, source_address=(source, 0)))
        sock.sendall(b"POST /api/v1/observations/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\nx")
        sockets.append(sock)
        time.sleep(0.15)  # under the request rate (limit_req, 10/s): only limit_conn refuses
    answers = []
    for sock in sockets:
        sock.settimeout(2.0 if not answers else 0.2)
        try:
            answers.append(sock.recv(100))
        except (TimeoutError, OSError):
            answers.append(b"")
    for sock in sockets:
        sock.close()
    return answers


@pytest.mark.skipif(NGINX is None, reason="needs nginx (apt-get install nginx-light) to run deploy/nginx")
def test_medium_nginx_connection_exhaustion_slow_sockets_on_port_80_leave_https_answering(embedded, tmp_path):
    """Issue 23: 2,200 slow sockets on the plain-HTTP port made 8 of 73 HTTPS health probes fail
    ("1024 worker_connections are not enough"). deploy/nginx/nginx.conf: 16,384 connections per
    worker and descriptors to match; port 80 closes a socket that has not sent its headers in 5 s;
    limit_conn: at most 32 requests in progress per address on 443 (429 past it)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 3000:
        pytest.skip(f"needs 3000 descriptors for the attack (hard limit {hard})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 3000), hard))
    try:
        with _gunicorn_behind_nginx(embedded["env"], tmp_path) as (https_url, http_url):
            http_port, https_port = int(http_url.rsplit(":", 1)[1]), int(https_url.rsplit(":", 1)[1])
            with SlowHeaderClients("127.0.0.1", http_port, count=2200, interval=2.0, source="127.0.0.2") as attack:
                timings = []
                for _ in range(20):
                    timings.append(timed_get(f"{https_url}/healthz", timeout=10, verify=False))
                    time.sleep(0.25)
                assert attack.reconnected > 0  # nginx closed sockets that never finished their headers
            assert all(status == 200 for _, status in timings), timings
            assert max(seconds for seconds, _ in timings) < 2.0, timings

            answers = _slow_body_uploads("127.0.0.1", https_port, 40, source="127.0.0.3")
            refused = [a for a in answers if a.startswith(b"HTTP/1.1 429")]
            assert len(refused) == 40 - 32, answers
            assert "limiting connections by zone" in (tmp_path / "nginx" / "error.log").read_text()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.skipif(NGINX is None, reason="needs nginx (apt-get install nginx-light) to run deploy/nginx")
def test_client_sent_x_forwarded_proto_is_trusted_only_from_the_proxy(embedded, tmp_path):
    """Production settings on gunicorn, as docker-compose.yml runs it: through nginx, https is
    served and plain http redirected whatever the client claims; straight to gunicorn from an
    address outside FORWARDED_ALLOW_IPS, a client's `X-Forwarded-Proto: https` is ignored."""
    port = free_port()
    env = {
        **embedded["env"],
        "DJANGO_SETTINGS_MODULE": "backend.settings.production",
        "DJANGO_SECRET_KEY": "s" * 60,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{embedded['tmp'] / 'var' / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/11",
        "RANGEWATCH_PUBLIC_BASE_URL": "https://rangewatch.example.org",
    }
    session = requests.Session()
    session.trust_env = False  # a CA bundle named in the environment would override verify=False

    def start(forwarded_allow_ips: str) -> subprocess.Popen:
        log = tmp_path / f"gunicorn-{forwarded_allow_ips}.log"
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "backend.wsgi", "--bind", f"127.0.0.1:{port}"],
            cwd=REPO,
            env={**env, "FORWARDED_ALLOW_IPS": forwarded_allow_ips},
            stdout=open(log, "w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while not reachable("127.0.0.1", port):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        return proc

    proxy = start("127.0.0.1")  # the proxy's address, as FORWARDED_ALLOW_IPS names nginx in compose
    try:
        with nginx_front(f"127.0.0.1:{port}", tmp_path / "nginx") as (https_url, http_url):
            assert (
                session.get(f"{https_url}/healthz", verify=False, allow_redirects=False, timeout=10).status_code == 200
            )
            spoofed = session.get(
                f"{http_url}/healthz", headers={"X-Forwarded-Proto": "https"}, allow_redirects=False, timeout=10
            )
            assert spoofed.status_code == 301 and spoofed.headers["Location"].startswith("https://")
    finally:
        proxy.terminate()
        proxy.wait(timeout=20)
    direct = start("127.0.0.2")  # this test's address is not the proxy's
    try:
        spoofed = session.get(
            f"http://127.0.0.1:{port}/healthz",
            headers={"X-Forwarded-Proto": "https"},
            allow_redirects=False,
            timeout=10,
        )
        assert spoofed.status_code == 301 and spoofed.headers["Location"].startswith("https://")
    finally:
        direct.terminate()
        direct.wait(timeout=20)
