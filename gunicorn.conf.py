"""gunicorn reads this file from the working directory (scripts/run, the Docker image, tests).

Each web process builds its range index (regions, ranges, statuses, the taxon tree) before it
takes its first request, so that no user's request pays the one-off build (about 1-2 s).

gunicorn's threads read requests with blocking calls, so a client that trickles its headers holds a
thread: in production gunicorn sits behind nginx (deploy/nginx), which hands it only whole
requests; the embedded default runs waitress instead (backend/serve.py). gunicorn takes the https
scheme from X-Forwarded-Proto only on connections from FORWARDED_ALLOW_IPS (its default 127.0.0.1;
docker-compose.yml: the proxy's fixed address).
"""


def post_worker_init(worker):
    from backend.warmup import warm_web_process

    warm_web_process(worker.log)
