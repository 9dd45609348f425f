"""How the watch lists react to what upstream apps announce (connected in WatchlistsConfig.ready()):
a classified, confirmed, corrected or rejected upload or frame is matched again."""

from __future__ import annotations

from core.jobs import enqueue
from watchlists.tasks import match_observation


def on_observation_changed(sender, *, observation, **kwargs) -> None:
    enqueue(match_observation, observation.pk)
