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
    from django.db import connections
    from waitress import serve

    application = get_wsgi_application()  # sets Django up: the app modules below import models

    from ranges.selectors import range_index_warm

    try:
        range_index_warm(log)  # before the first request, as gunicorn.conf.py does for gunicorn
    finally:
        connections.close_all()
    serve(
        application,
        listen=args.listen,
        threads=args.threads,
        ident="RangeWatch",
        # A connection that sends nothing for this long is closed.
        channel_timeout=30,
        connection_limit=512,
        asyncore_use_poll=True,  # poll(), not select(): no 1024-descriptor ceiling
        # Bodies over the upload cap are refused (413) before they are buffered.
        max_request_body_size=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
    )


if __name__ == "__main__":
    main()
