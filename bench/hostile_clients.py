"""Hostile clients for bench/load.py and the end-to-end tests: sockets that trickle their headers
(slowloris), and a timed GET. The nginx front they attack through is backend.launcher.nginx_front."""

from __future__ import annotations

import socket
import threading
import time

import requests


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
