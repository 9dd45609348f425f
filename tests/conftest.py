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


# Under pytest-xdist, `scripts/test` runs `-n N --dist loadfile --no-loadscope-reorder`: a file's
# tests run on one worker, so that its module-scoped stack, browser or model starts once, not once a
# worker. These files share one session-scoped stack (mobile_client_stub/conftest.py: live_stack), so
# they share a worker too. (xdist's own `loadgroup` marks do nothing under pytest 9: xdist 3.8 renames
# `item._nodeid`, which pytest 9 no longer reads.)
SHARED_WORKER = {
    f"tests/mobile_client_stub/{name}": "mobile-client-live-stack"
    for name in ("test_batch_live.py", "test_cli_live.py", "test_schema.py")
}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FileScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return SHARED_WORKER.get(path, path)

    return FileScheduling(config, log)


def _heavy(item) -> bool:
    return item.get_closest_marker("e2e") is not None or item.get_closest_marker("slow") is not None


def _uses_db(item) -> bool:
    return item.get_closest_marker("django_db") is not None or bool(
        {"db", "transactional_db", "django_db_setup", "live_server"} & set(getattr(item, "fixturenames", ()))
    )


def pytest_configure(config):
    if hasattr(config, "workerinput"):  # an xdist worker: it collects, the controller hands out in that order
        config.pluginmanager.register(_HeavyFirst(), "rangewatch-heavy-first")


class _HeavyFirst:
    """The `e2e`/`slow` tests that use no test database handed out first: a worker that takes a
    ten-minute file last keeps the others idle at the end. pytest-django orders the tests that use
    the database (plain before transactional) and puts the others last; only those others move."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        items.sort(key=lambda item: not (_heavy(item) and not _uses_db(item)))


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
