"""Celery plumbing one way (core.jobs): every task names its queue and lives under its own app's
name; the names tasks had before the app split still run (messages already queued carry them)."""

from __future__ import annotations

import pytest

from backend.celery import app
from core.jobs import QUEUES, queue_of, task
from tests.layout import APPS

RENAMED = {
    "observations.raise_observation_alert": "alerts.raise_observation_alert",
    "observations.deliver_alert": "alerts.deliver_alert",
}


def _project_tasks():
    app.loader.import_default_modules()
    return {name: t for name, t in app.tasks.items() if name.split(".")[0] in APPS}


def test_every_task_declares_a_known_queue_and_is_named_after_its_own_app():
    tasks = _project_tasks()
    assert "observations.classify_observation" in tasks and "community.write_dwca_export" in tasks
    for name, t in tasks.items():
        assert queue_of(name) in QUEUES, f"{name} declares no queue"
        assert app.amqp.router.route({}, name)["queue"].name == queue_of(name)
        if name not in RENAMED:
            assert name.split(".")[0] == t.__module__.split(".")[0], f"{name} is defined in {t.__module__}"


def test_old_names_run_the_same_task_with_the_same_contract():
    tasks = _project_tasks()
    for old, new in RENAMED.items():
        assert tasks[old].run.__code__ is tasks[new].run.__code__
        assert (queue_of(old), tasks[old].max_retries, tasks[old].acks_late) == (
            queue_of(new),
            tasks[new].max_retries,
            tasks[new].acks_late,
        )


def test_a_task_without_a_known_queue_is_refused():
    with pytest.raises(ValueError, match="unknown queue"):
        task("observations.nowhere", queue="gpu")
