"""The per-process range index: built from the database in a few flat queries, rebuilt when the
range data version moves (no restart), warmed and frozen in server processes."""

from __future__ import annotations

import ctypes
import gc
import logging
import time
from sys import intern

import shapely
from django.conf import settings

from core.process_cache import VersionedCache
from ranges.models import (
    DataVersion,
    GeofenceEntry,
    RangePolygon,
    RangeSource,
    Region,
    RegionalStatus,
)
from ranges.range_index import GeofenceRecord, RangeIndex, RangeRecord, RegionRecord, StatusRecord
from species.selectors import taxon_keys_by_id

log = logging.getLogger(__name__)


_freeze_after_build = False  # set by range_index_warm in server processes


def _build_for_process(version: int) -> RangeIndex:
    index = build_range_index(version, keep_region_geometries=False)
    if _freeze_after_build:
        _gc_freeze()
    release_freed_memory()
    return index


# The old index goes before the new one is built: never two in memory. Looked up at call time, so
# that tests can stand in for the builder.
_index = VersionedCache(version=lambda: data_version(), build=lambda v: _build_for_process(v), drop_old_first=True)


def data_version() -> int:
    row = DataVersion.objects.filter(key="ranges").values_list("version", flat=True).first()
    return int(row or 0)


def range_index() -> RangeIndex:
    """The index for this process, rebuilt when the data version moves (no restart needed)."""
    return _index.get()


def release_freed_memory() -> None:
    """Give the heap that the build freed back to the system. The build reads every polygon as WKB and
    makes whole geometries before cutting them into pieces; glibc keeps the freed arenas mapped, so a
    process held ~140 MB it no longer used (issue 22: web and worker each ≤ 400 MB with all data)."""
    gc.collect()
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl, macOS): nothing to trim
        return
    libc.malloc_trim(0)


def _gc_freeze() -> None:
    """The index's ~200,000 long-lived objects make every full cyclic-GC pass take about 100 ms,
    a pause for every request thread of the process: move them, and everything else alive now,
    out of the collector's way (gc.freeze). Refcounting still frees them once the index is replaced."""
    gc.collect()
    gc.freeze()


def range_index_warm(log) -> RangeIndex | None:
    """Build this process's index at start-up (web and worker processes), so that no request
    pays for the build, and from now on keep each index out of the cyclic GC's way (a
    long-running server process; tests and commands never freeze). On a database without the
    tables it logs and leaves the build to the first use."""
    global _freeze_after_build
    started = time.perf_counter()
    try:
        index = range_index()
    except Exception as exc:
        log.warning("range index not built at start: %s", exc)
        return None
    finally:
        _freeze_after_build = True  # later rebuilds freeze as they build
    _gc_freeze()
    log.info(
        "range index ready: version %s, %d regions, in %.2fs",
        index.version,
        len(index.regions),
        time.perf_counter() - started,
    )
    return index


def range_index_clear() -> None:
    """Forget this process's index (tests; the version check covers production)."""
    _index.clear()


def build_range_index(version: int | None = None, *, keep_region_geometries: bool = True) -> RangeIndex:
    """Everything the verdict needs, read in a few flat queries (no per-row ORM objects).
    `keep_region_geometries=False` (server processes): the whole polygons go once cut into pieces."""
    version = data_version() if version is None else version
    # Keyed as the taxon tree keys taxa: a plant genus's records never land on the animal order of its name.
    keys = taxon_keys_by_id()
    regions, geometries = _region_records()
    groups: dict[str, list[str]] = {}
    for group, member in Region.members.through.objects.values_list("from_region__code", "to_region__code"):
        groups.setdefault(group, []).append(member)
    ranges, range_geometries = _range_records(keys)
    open_world = frozenset(RangeSource.objects.filter(absence_means_not_native=False).values_list("name", flat=True))
    complete_groups = frozenset(
        RangeSource.objects.filter(lists_every_species=True)
        .exclude(taxon_group="")
        .values_list("taxon_group", flat=True)
    )
    return RangeIndex(
        regions=regions,
        region_geometries=geometries,
        statuses=_status_records(keys),
        ranges=ranges,
        range_geometries=range_geometries,
        snap_tolerance_deg=settings.RANGEWATCH_SNAP_TOLERANCE_DEG,
        version=version,
        region_groups=groups,
        geofence=_geofence_records(keys),
        keep_region_geometries=keep_region_geometries,
        open_world_sources=open_world,
        complete_taxon_groups=complete_groups,
    )


def _region_records() -> tuple[list[RegionRecord], list]:
    parent_codes = dict(Region.objects.filter(parent__isnull=False).values_list("id", "parent__code"))
    regions, wkbs = [], []
    for rid, code, kind, name, geometry in Region.objects.values_list(
        "id", "code", "kind", "name", "geometry"
    ).iterator(chunk_size=500):
        parent = parent_codes.get(rid)
        regions.append(
            RegionRecord(
                code=intern(code), kind=intern(kind), name=name, parent_code=intern(parent) if parent else None
            )
        )
        wkbs.append(bytes(geometry) if geometry else None)
    return regions, (list(shapely.from_wkb(wkbs)) if wkbs else [])


def _status_records(keys: dict[int, str]) -> list[StatusRecord]:
    # 150,000 statuses repeat a few thousand taxa, regions and sources: one string object each
    # (sys.intern) instead of one per row, in every process that holds the index.
    return [
        StatusRecord(
            taxon_key=keys.get(t, ""),
            region_code=intern(r),
            status=intern(s),
            source=intern(src),
            source_url=intern(url),
            degree_of_establishment=intern(deg),
            closed_world=closed,
        )
        for t, r, s, src, url, deg, closed in RegionalStatus.objects.values_list(
            "taxon_id",
            "region__code",
            "status",
            "source",
            "source_url",
            "degree_of_establishment",
            "closed_world",
        ).iterator(chunk_size=5000)
    ]


def _range_records(keys: dict[int, str]) -> tuple[list[RangeRecord], list]:
    rows = list(RangePolygon.objects.values_list("taxon_id", "origin", "source", "source_url", "geometry"))
    ranges = [
        RangeRecord(taxon_key=keys.get(t, ""), origin=o, source=intern(s), source_url=intern(u))
        for t, o, s, u, _ in rows
    ]
    return ranges, (list(shapely.from_wkb([bytes(g) for *_, g in rows])) if rows else [])


def _geofence_records(keys: dict[int, str]) -> list[GeofenceRecord]:
    return [
        GeofenceRecord(
            taxon_key=keys.get(t, ""),
            region_code=intern(r),
            rule=rule,
            comment=c,
            source=intern(src),
            source_url=intern(url),
        )
        for t, r, rule, c, src, url in GeofenceEntry.objects.values_list(
            "taxon_id", "region__code", "rule", "comment", "source", "source_url"
        ).iterator(chunk_size=5000)
    ]
