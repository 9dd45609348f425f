"""Shared fixtures: a throw-away media root, the ../shared/data path, factories, a tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
PHOTOS = SHARED_DATA / "photos"


def shared_path(*parts: str) -> Path:
    """A file under ../shared/data, or skip the test with a clear reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared/data/{'/'.join(parts)} (real openly licensed data, not shipped with the project)")
    return path


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.RANGEWATCH_MODEL_DIR = tmp_path / "models"


def _clear_process_caches():
    from django.core.cache import caches

    from ranges.index_cache import range_index_clear
    from species.selectors import taxon_tree_clear

    range_index_clear(), taxon_tree_clear()
    for cache in caches.all(initialized_only=True):
        cache.clear()


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Every test starts with empty caches: a rolled-back test may leave a version number that the
    next test's data reaches again, map payloads are keyed by ids the next test reuses, and the
    throttles count in the (locmem) cache, keyed by user ids that SQLite hands out again (the docs-page
    upload test was once refused 429 in the full suite's order)."""
    _clear_process_caches()
    yield
    _clear_process_caches()


@pytest.fixture
def tiny_artifact(tmp_path):
    """A random-init tiny model artifact whose labels map to taxa used by the factories."""
    from tests.factories import tiny_model_artifact

    return tiny_model_artifact(tmp_path / "tiny-model")


# The small world of regions, taxa, roles and a webhook receiver that the app test folders share.
from tests.world import eager_celery, geo, local_webhooks, model_version, receiver, taxa, users  # noqa: E402,F401
