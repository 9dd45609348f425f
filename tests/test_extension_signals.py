"""One extension mechanism: downstream apps answer upstream questions through signals connected in
their AppConfig.ready(); no module-level lists or registry functions are left."""

from __future__ import annotations

from classifier.signals import training_sources_requested
from classifier.training import training_sources
from observations.signals import record_taxa_requested
from tests.conftest import REPO
from tests.layout import APPS


def test_community_answers_the_upstream_signals():
    receivers = {r[0][0] for r in record_taxa_requested.receivers} | {
        r[0][0] for r in training_sources_requested.receivers
    }
    assert {"community.record_taxa_of_identifications", "community.offer_reviewed_training_records"} <= receivers
    assert "reviewed observations" in training_sources()


def test_no_module_level_registry_is_left():
    for path in (p for app in (*APPS, "backend") for p in (REPO / app).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for pattern in ("record_taxa_providers", "training_source_register"):
            assert pattern not in text, f"{path} still uses {pattern}"
