"""gunicorn reads this file from the working directory (scripts/run, the Docker image, tests).

Each web process builds its range index (regions, ranges, statuses, the taxon tree) before it
takes its first request, so that no user's request pays the one-off build (about 1-2 s).
"""


def post_worker_init(worker):
    from django.db import connections

    from ranges.selectors import range_index

    try:
        index = range_index()
        worker.log.info("range index ready: version %s, %d regions", index.version, len(index.regions))
    except Exception as exc:  # noqa: BLE001 - an empty or unmigrated database: build on first use instead
        worker.log.warning("range index not built at start (%s)", exc)
    finally:
        connections.close_all()
