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


def _shares_a_fixture_with_its_file(item) -> bool:
    """Whether the test uses a module- or class-scoped fixture of this suite (a running stack, a
    browser, a built model): the file's other tests reuse it."""
    info = getattr(item, "_fixtureinfo", None)
    return info is not None and any(
        fixture.scope in ("module", "class", "package") and fixture.baseid.startswith("tests")
        for fixtures in info.name2fixturedefs.values()
        for fixture in fixtures
    )


def _heavy(item) -> bool:
    return item.get_closest_marker("e2e") is not None or item.get_closest_marker("slow") is not None


def _uses_db(item) -> bool:
    return item.get_closest_marker("django_db") is not None or bool(
        {"db", "transactional_db", "django_db_setup", "live_server"} & set(getattr(item, "fixturenames", ()))
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`scripts/test` runs `-n N --dist loadgroup`): the tests of a file that
    share a module-scoped fixture (a running stack, a browser, a built model) run on one worker, so
    that it starts once, not once a worker; a test marked `xdist_group` runs with its group (the
    mobile client's session-scoped live stack); every other test goes to whichever worker is free."""
    if not _loadgroup(config):
        return
    for item in items:
        if item.get_closest_marker("xdist_group") is None and _shares_a_fixture_with_its_file(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


def _loadgroup(config) -> bool:
    # xdist's workers (which collect) see dist "no" and loadgroup True; the controller sees the option.
    return getattr(config.option, "dist", None) == "loadgroup" or bool(getattr(config.option, "loadgroup", False))


def pytest_configure(config):
    if _loadgroup(config):
        config.pluginmanager.register(_HeavyFirst(), "rangewatch-heavy-first")


class _HeavyFirst:
    """The `e2e`/`slow` tests that use no test database handed out first: a worker that takes a
    ten-minute group last keeps the others idle at the end. pytest-django orders the tests that use
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
