"""Where training records can come from besides files: downstream apps offer sources through a
signal (classifier.signals.training_sources_requested), and `train_classifier --from-observations`
asks for one by name. The app that owns review offers "reviewed observations" (community.apps).
"""

from __future__ import annotations

from collections.abc import Callable

from classifier.signals import training_sources_requested
from core.errors import ServiceError

TrainingRecordSource = Callable[[], list[dict]]  # -> [{id, path, label, location}], ml.training's records


class NoTrainingSource(ServiceError):
    code = "no_training_source"


def training_sources() -> dict[str, TrainingRecordSource]:
    sources: dict[str, TrainingRecordSource] = {}
    for _, offered in training_sources_requested.send(sender=None):
        sources.update(offered)
    return sources


def training_records(name: str) -> list[dict]:
    sources = training_sources()
    if name not in sources:
        raise NoTrainingSource(
            f"no training record source named {name!r} (known: {', '.join(sorted(sources)) or 'none'})"
        )
    return sources[name]()
