"""The embedded default's web server (scripts/run): waitress, with the range index built first.

waitress reads each request whole (headers and body) in its own event loop before one of its
threads runs Django, so a client that trickles its headers holds a socket, not a thread (issue 15:
ten such sockets froze gunicorn's eight threads). Production gets the same from nginx in front of
gunicorn (deploy/nginx).

    python -m backend.serve [--listen 127.0.0.1:8000] [--threads 8]
"""

from __future__ import annotations

import argparse
import logging
import os

log = logging.getLogger("rangewatch.serve")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", default="127.0.0.1:8000", help="host:port")
    parser.add_argument(
        "--threads",
        type=int,
        default=8,
        help="threads running requests (RANGEWATCH_WAIT_HOLDS_PER_PROCESS: about half)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.local")

    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    from waitress.server import create_server

    application = get_wsgi_application()  # sets Django up: the app modules below import models

    from backend.warmup import warm_web_process

    warm_web_process(log)  # before the first request, as gunicorn.conf.py does for gunicorn
    descriptors = raise_descriptor_limit(CONNECTION_LIMIT + 256)
    server = create_server(
        application,
        listen=args.listen,
        threads=args.threads,
        ident="RangeWatch",
        # A connection that sends nothing for this long is closed.
        channel_timeout=30,
        connection_limit=min(CONNECTION_LIMIT, max(64, descriptors - 256)),
        asyncore_use_poll=True,  # poll(), not select(): no 1024-descriptor ceiling
        # Bodies over the upload cap are refused (413) before they are buffered.
        max_request_body_size=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
    )
    logging.basicConfig()  # as waitress.serve does: its start-up line and warnings
    per_address = settings.RANGEWATCH_CONNECTIONS_PER_ADDRESS
    for listener in _listeners(server):
        cap_connections_per_address(listener, per_address)
    server.print_listen(f"Serving on http://{{}}:{{}} (at most {per_address} connections per client address)")
    server.run()


# Issue 23: 600 sockets trickling their headers from one address filled waitress's 512 connections,
# and /healthz answered 0 of 4. One address may hold at most RANGEWATCH_CONNECTIONS_PER_ADDRESS
# connections (a browser opens ~6); past it a new connection is answered 503 and closed at once,
# so one client can never take the others' places. Many addresses together still meet
# CONNECTION_LIMIT: in production nginx stands in front (deploy/nginx, limit_conn).
CONNECTION_LIMIT = 1000
OVER_THE_CAP = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 37\r\n"
    b"Retry-After: 5\r\nConnection: close\r\n\r\ntoo many connections from this address\n"
)


def cap_connections_per_address(server, per_address: int) -> None:
    """Wrap `server`'s channel factory: a connection from an address that already holds
    `per_address` open connections is answered 503 and closed, never given a channel."""
    make_channel = server.channel_class

    def channel_or_refusal(srv, conn, addr, adj, map=None):
        host = addr[0] if isinstance(addr, tuple) else addr
        held = sum(1 for channel in list(srv.active_channels.values()) if _host(channel.addr) == host)
        if held >= per_address:
            try:
                conn.send(OVER_THE_CAP)
            except OSError:
                pass
            conn.close()
            return None
        return make_channel(srv, conn, addr, adj, map=map)

    server.channel_class = channel_or_refusal


def _host(addr) -> str | None:
    return addr[0] if isinstance(addr, tuple) and addr else addr


def _listeners(server) -> list:
    """The TCP servers behind what create_server returned (one, or several for several --listen)."""
    from waitress.server import BaseWSGIServer

    if isinstance(server, BaseWSGIServer):
        return [server]
    return [s for s in server.map.values() if isinstance(s, BaseWSGIServer)]


def raise_descriptor_limit(wanted: int) -> int:
    """Raise this process's soft descriptor limit toward `wanted` (within the hard limit): each
    connection holds one. Returns the soft limit now in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            log.warning("could not raise the descriptor limit from %s to %s", soft, target)
    return soft if soft != resource.RLIM_INFINITY else wanted


if __name__ == "__main__":
    main()
