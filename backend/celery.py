"""The Celery app: configured from Django settings (CELERY_*), tasks found in the apps."""
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.local")

app = Celery("rangewatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
