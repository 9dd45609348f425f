"""Issue 22: web and worker processes each held ~0.5 GB with all of ../shared/data imported, the range
index's build leftovers among it. The index a server process keeps holds the small pieces it queries,
not the whole polygons as well, and the heap the build freed goes back to the system
(`python bench/verdict.py` prints the RSS of a fresh web process and worker: 477 / 511 MB before,
281 / 342 MB after, on the same database)."""

import pytest

from ranges import index_cache
from ranges.range_index import RangeIndex, RegionRecord, StatusRecord
from tests.factories import TaxonFactory, region, status


@pytest.fixture
def fresh_index_state():
    index_cache.range_index_clear()
    yield
    index_cache.range_index_clear()


@pytest.mark.django_db
def test_the_server_index_keeps_only_the_pieces_it_queries_and_answers_the_same(fresh_index_state):
    country = region("AAA", "country", (0, 0, 10, 10), name="Aland")
    region("AAA-N", "admin1", (0, 5, 10, 10), parent=country, name="North Aland")
    status(TaxonFactory(scientific_name="Testus nativus"), country, "native")

    served = index_cache.range_index()
    kept = index_cache.build_range_index()
    assert all(g is None for g in served.region_geometries)  # before: every whole polygon, twice over
    assert all(g is not None for g in kept.region_geometries)  # benchmarks and tools still get them
    for lon, lat in [(2, 7), (2, 2), (10.05, 5), (50, 50)]:
        assert [h.region.code for h in served.regions_at(lon, lat)] == [
            h.region.code for h in kept.regions_at(lon, lat)
        ]


def test_index_records_share_one_string_per_value_and_carry_no_instance_dict():
    """150,000 statuses: one __dict__ each and one copy of each source string per row were ~100 MB."""
    record = StatusRecord("Vulpes vulpes", "AUS", "invasive", "GRIIS checklist: Australia v1.10 (ISSG)")
    assert not hasattr(record, "__dict__") and not hasattr(RegionRecord("AUS", "country", "Australia"), "__dict__")
    index = RangeIndex(regions=[], region_geometries=[], statuses=[record])
    assert index.statuses_for("Vulpes vulpes", "AUS") == [record]


def test_release_freed_memory_runs_where_there_is_no_glibc_too(monkeypatch):
    import ctypes

    def no_glibc(name):
        raise OSError(name)

    monkeypatch.setattr(ctypes, "CDLL", no_glibc)
    index_cache.release_freed_memory()  # nothing to trim: no error
