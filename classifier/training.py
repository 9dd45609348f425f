"""Where training records can come from besides files: a registry that downstream apps fill.

The classifier app sits upstream of observations and review, so it cannot read reviewed
observations itself; the app that owns review registers a source here (community.apps) and
`train_classifier --from-observations` asks for it by name.
"""

from __future__ import annotations

from collections.abc import Callable

from backend.errors import ServiceError

TrainingRecordSource = Callable[[], list[dict]]  # -> [{id, path, label, location}], ml.training's records

_sources: dict[str, TrainingRecordSource] = {}


class NoTrainingSource(ServiceError):
    code = "no_training_source"


def training_source_register(name: str, source: TrainingRecordSource) -> None:
    _sources[name] = source


def training_records(name: str) -> list[dict]:
    if name not in _sources:
        raise NoTrainingSource(
            f"no training record source named {name!r} (known: {', '.join(sorted(_sources)) or 'none'})"
        )
    return _sources[name]()
