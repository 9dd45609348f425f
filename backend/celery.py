"""The Celery app: configured from Django settings (CELERY_*), tasks found in the apps."""

import os
from pathlib import Path

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.local")

app = Celery("rangewatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _closed_redis_channel_raises_connection_error() -> None:
    """kombu 5.7.0 bug (issue 15, finding 4): when Redis restarts while a late-acked task runs, the
    worker's reconnect first tears the transport down (`Connection.collect`: transport.client =
    None) and then closes the channel that holds the unacked message; restoring it reads
    `transport.client.hostname` -> AttributeError, which no handler expects, and the whole worker
    exits ("Unrecoverable error"). Raising the broker's own ConnectionError instead lets kombu's
    handlers do what they do for any lost connection: the worker reconnects; the message stays in
    Redis's unacked index (restored after visibility_timeout; the task is idempotent).
    Applied when a worker starts on a Redis broker: importing kombu's Redis transport costs every
    other process (web, commands, the embedded broker) ~50 ms of start-up for nothing."""
    from kombu.transport import redis as kombu_redis

    connparams = kombu_redis.Channel._connparams

    def _connparams_of_live_connection(self, asynchronous=False):
        if self.connection.client is None:
            raise kombu_redis.redis.exceptions.ConnectionError("the broker connection was already closed")
        return connparams(self, asynchronous=asynchronous)

    kombu_redis.Channel._connparams = _connparams_of_live_connection


@signals.worker_init.connect(weak=False)
def patch_the_redis_transport(sender=None, **kwargs) -> None:
    if str(app.conf.broker_url).startswith(("redis://", "rediss://")):
        _closed_redis_channel_raises_connection_error()


@signals.task_prerun.connect(weak=False)
@signals.task_postrun.connect(weak=False)
def close_stale_task_connections(task=None, **kwargs) -> None:
    """Around each task, close this thread's database connection if it is past CONN_MAX_AGE or
    broke (what Django does around each request; CELERY_DB_REUSE_MAX keeps the rest open).
    Not for eager tasks: they run inside the caller's transaction."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@signals.heartbeat_sent.connect(weak=False)
def touch_worker_heartbeat(sender=None, **kwargs) -> None:
    """Every heartbeat (2 s) the worker's event loop touches a file: the container healthcheck
    (docker-compose.yml) calls a worker unhealthy when the file is older than 30 s."""
    path = os.environ.get("RANGEWATCH_WORKER_HEARTBEAT_FILE")
    if path:
        Path(path).touch()
