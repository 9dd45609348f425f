"""Hostile clients and the production front for e2e tests and bench/load.py: sockets that trickle
their headers (slowloris), and nginx with deploy/nginx's configuration in front of a local server."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.e2e.stack import REPO, free_port, reachable

NGINX_TEMPLATE = REPO / "deploy" / "nginx" / "rangewatch.conf.template"
NGINX_MAIN = REPO / "deploy" / "nginx" / "nginx.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


class SlowHeaderClients:
    """`count` connections that each send a request line and then one header line every
    `interval` seconds, never finishing: what issue 15 used to freeze the API."""

    def __init__(
        self,
        host: str,
        port: int,
        count: int = 32,
        interval: float = 1.0,
        path: str = "/healthz",
        tls: bool = False,
        source: str | None = None,
    ):
        self.host, self.port, self.count, self.interval, self.path, self.tls = host, port, count, interval, path, tls
        self.source = (source, 0) if source else None  # a local address to connect from
        self.sockets: list[socket.socket] = []
        self.reconnected = 0  # sockets the server closed (a header timeout) and the attack reopened
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=5, source_address=self.source)
        if self.tls:
            import ssl

            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            sock = context.wrap_socket(sock)
        sock.sendall(f"GET {self.path} HTTP/1.1\r\nHost: localhost\r\n".encode())
        return sock

    def _trickle(self) -> None:
        n = 0
        while not self._stop.wait(self.interval):
            n += 1
            for sock in list(self.sockets):
                try:
                    sock.sendall(f"X-Slow-{n}: x\r\n".encode())
                except OSError:  # the server gave up on it (a header timeout): open another
                    self.sockets.remove(sock)
                    self.reconnected += 1
                    try:
                        self.sockets.append(self._connect())
                    except OSError:
                        pass

    def __enter__(self):
        self.sockets = [self._connect() for _ in range(self.count)]
        self._thread.start()
        time.sleep(self.interval * 1.5)  # every socket has been taken by the server by now
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        for sock in self.sockets:
            sock.close()


def timed_get(url: str, timeout: float = 30, **kwargs) -> tuple[float, int]:
    """(seconds, status) of one GET; status 0 when it timed out."""
    started = time.monotonic()
    try:
        status = requests.get(url, timeout=timeout, **kwargs).status_code
    except requests.RequestException:
        status = 0
    return time.monotonic() - started, status


def render_nginx_site(values: dict[str, str]) -> str:
    """deploy/nginx's template with ${RANGEWATCH_*} filled in, as the nginx image's envsubst does."""
    text = NGINX_TEMPLATE.read_text()
    return re.sub(r"\$\{(RANGEWATCH_[A-Z_]+)\}", lambda m: values[m.group(1)], text)


def render_nginx_main(workdir: Path, temp_paths: str) -> str:
    """deploy/nginx/nginx.conf as this machine runs it: in the foreground, as the current user,
    with its files under `workdir` and the site rendered into workdir/site.conf."""
    text = NGINX_MAIN.read_text()
    text = re.sub(r"^user .*;\n", "", text, flags=re.M)
    text = text.replace("pid /var/run/nginx.pid;", f"daemon off;\npid {workdir / 'nginx.pid'};")
    text = text.replace("/var/log/nginx/error.log", str(workdir / "error.log"))
    text = text.replace("access_log /var/log/nginx/access.log;", "access_log off;\n" + temp_paths)
    text = text.replace("include /etc/nginx/mime.types;", "")
    return text.replace("include /etc/nginx/conf.d/*.conf;", f"include {workdir / 'site.conf'};")


@contextmanager
def nginx_front(upstream: str, workdir: Path):
    """nginx on two free ports (http, https with a self-signed certificate) in front of `upstream`
    (host:port), configured by deploy/nginx. Yields the https base URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    http_port, https_port = free_port(), free_port()
    (workdir / "site.conf").write_text(
        render_nginx_site(
            {
                "RANGEWATCH_UPSTREAM": upstream,
                "RANGEWATCH_HTTP_PORT": f"127.0.0.1:{http_port}",
                "RANGEWATCH_HTTPS_PORT": f"127.0.0.1:{https_port}",
                "RANGEWATCH_TLS_CERT": str(cert),
                "RANGEWATCH_TLS_KEY": str(key),
            }
        )
    )
    temp = "".join(
        f"{kind}_temp_path {workdir / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (workdir / "nginx.conf").write_text(render_nginx_main(workdir, temp))
    proc = subprocess.Popen(
        [NGINX, "-c", str(workdir / "nginx.conf"), "-p", str(workdir)],
        stderr=subprocess.STDOUT,
        stdout=open(workdir / "stdout.log", "w"),
    )
    try:
        deadline = time.monotonic() + 10
        while not reachable("127.0.0.1", https_port):
            assert proc.poll() is None and time.monotonic() < deadline, (workdir / "stdout.log").read_text() + (
                workdir / "error.log"
            ).read_text()
            time.sleep(0.05)
        yield f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
