"""How community answers what upstream apps ask (connected in CommunityConfig.ready())."""

from __future__ import annotations

from community.selectors import identification_taxa, reviewed_training_records


def record_taxa_of_identifications(sender, *, observation, **kwargs) -> list[str]:
    """observations.signals.record_taxa_requested: the taxa the current identifications name."""
    return identification_taxa(observation)


def offer_reviewed_training_records(sender, **kwargs) -> dict:
    """classifier.signals.training_sources_requested: reviewer-confirmed observations."""
    return {"reviewed observations": reviewed_training_records}
