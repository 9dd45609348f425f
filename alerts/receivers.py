"""How alerts react to what upstream apps announce (connected in AlertsConfig.ready())."""

from __future__ import annotations

from alerts.services import TRIGGER_CLASSIFIED, TRIGGER_VERIFIED, watch_list_hit
from alerts.tasks import raise_observation_alert
from core.jobs import enqueue


def on_observation_classified(sender, *, observation, verdict_status: str, score: float | None, **kwargs) -> None:
    """A confident identification of a species invasive here alerts before review. Most
    classifications publish nothing; the task decides again from the stored rows."""
    if watch_list_hit(verdict_status, score):
        enqueue(raise_observation_alert, observation.pk, TRIGGER_CLASSIFIED)


def on_observation_verified(sender, *, observation, **kwargs) -> None:
    enqueue(raise_observation_alert, observation.pk, TRIGGER_VERIFIED)
