"""Warming a server process before its first request: the one entry point the web servers call
(gunicorn.conf.py's post_worker_init, backend/serve.py for waitress). The inference worker warms
through classifier.inference.warm_up, which builds the same range index and loads the model."""

from __future__ import annotations


def warm_web_process(log) -> None:
    """Build the range index (and the taxon tree it keys) so that no user's request pays for it,
    then close the connections the build opened: request threads open their own."""
    from django.db import connections

    from ranges.index_cache import range_index_warm

    try:
        range_index_warm(log)
    finally:
        connections.close_all()
