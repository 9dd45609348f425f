"""gunicorn reads this file from the working directory (scripts/run, the Docker image, tests).

Each web process builds its range index (regions, ranges, statuses, the taxon tree) before it
takes its first request, so that no user's request pays the one-off build (about 1-2 s).
"""


def post_worker_init(worker):
    from django.db import connections

    from ranges.selectors import range_index_warm

    try:
        range_index_warm(worker.log)
    finally:
        connections.close_all()
