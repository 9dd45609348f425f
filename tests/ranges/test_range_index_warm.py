"""Server processes build the range index at start and keep it out of the cyclic GC's way."""

import gc
import logging

import pytest

from ranges import index_cache


@pytest.fixture
def fresh_index_state():
    index_cache.range_index_clear()
    yield
    gc.unfreeze()
    index_cache._freeze_after_build = False
    index_cache.range_index_clear()


@pytest.mark.django_db
def test_warm_builds_the_index_and_freezes_it_out_of_the_gc(fresh_index_state, caplog):
    """Input: an empty database (no regions). The index is built once, logged, and the objects
    alive then are frozen (a full GC pass no longer walks them); later rebuilds freeze too."""
    gc.unfreeze()
    with caplog.at_level(logging.INFO):
        index = index_cache.range_index_warm(logging.getLogger("test"))
    assert index is index_cache.range_index()
    assert gc.get_freeze_count() > 0
    assert "range index ready" in caplog.text

    from ranges.services import data_version_bump

    gc.unfreeze()
    data_version_bump()
    rebuilt = index_cache.range_index()
    assert rebuilt is not index and gc.get_freeze_count() > 0


def test_warm_on_a_database_without_tables_logs_and_leaves_the_build_to_first_use(
    fresh_index_state, caplog, monkeypatch
):
    """Input: the build raising (an unmigrated database). Warm-up logs it and returns None."""
    monkeypatch.setattr(
        index_cache,
        "build_range_index",
        lambda version=None, **_: (_ for _ in ()).throw(RuntimeError("no such table: ranges_region")),
    )
    monkeypatch.setattr(index_cache, "data_version", lambda: 0)
    with caplog.at_level(logging.WARNING):
        assert index_cache.range_index_warm(logging.getLogger("test")) is None
    assert "no such table" in caplog.text
