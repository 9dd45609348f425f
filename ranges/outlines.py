"""Region outlines as maps draw them, built when region geometry is written (issue 23, round two).

A map request used to load a region's whole outline (MBs for a big country) and simplify it in the
web process on every cache miss, and every write of range data made the cache cold. The simplified
outline of each region at each map tolerance is now stored (RegionOutline) by the writes of region
geometry (`regions_upsert`, `region_group_upsert`, the admin) and by `manage.py build_region_outlines`
(which `bootstrap` runs), so a map request reads a few KB of text instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time

import shapely
from django.db import transaction

from ranges.geojson import MAP_TOLERANCES_DEG, display_geometries, display_geometry
from ranges.models import Region, RegionKind, RegionOutline

log = logging.getLogger(__name__)
BUILD_BATCH = 50


def region_geometries(regions) -> dict[int, object]:
    """Each region's geometry by pk (shapely); a group (US-RIIS "L48") is the union of its members."""
    out = {}
    for region in regions:
        if region.geometry:
            out[region.pk] = shapely.from_wkb(bytes(region.geometry))
        elif region.kind == RegionKind.GROUP:
            members = shapely.from_wkb([bytes(g) for g in region.members.values_list("geometry", flat=True) if g])
            if len(members):
                # Members are states of one coverage (no overlaps): coverage union is exact and
                # ~10x faster than union_all (0.06 s for the 49 states of L48).
                out[region.pk] = shapely.coverage_union_all(members)
    return out


def outline_text(geometry, tolerance: float) -> str | None:
    """The GeoJSON geometry of `geometry` at `tolerance` as compact text; None when nothing is left."""
    shape = display_geometry(geometry, tolerance)
    return None if shape is None else json.dumps(shape, separators=(",", ":"))


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def outline_sources(region_ids=None) -> dict[int, str]:
    """What each region's outlines are built from, as a hash: its geometry_sha1 (hashed from the WKB
    where a row lacks it; "" with no geometry), a group's from its members'. All regions by default."""
    rows = Region.objects.all() if region_ids is None else Region.objects.filter(pk__in=region_ids)
    meta = list(rows.values_list("pk", "kind", "geometry_sha1"))
    groups = [pk for pk, kind, _ in meta if kind == RegionKind.GROUP]
    links = list(
        Region.members.through.objects.filter(from_region_id__in=groups).values_list("from_region_id", "to_region_id")
    )
    own = {pk: sha1 for pk, kind, sha1 in meta if kind != RegionKind.GROUP}
    missing_members = {m for _, m in links} - own.keys()
    own.update(Region.objects.filter(pk__in=missing_members).values_list("pk", "geometry_sha1"))
    unhashed = [pk for pk, sha1 in own.items() if not sha1]
    for pk, wkb in Region.objects.filter(pk__in=unhashed).values_list("pk", "geometry").iterator(chunk_size=100):
        own[pk] = _sha1(bytes(wkb)) if wkb else ""
    members: dict[int, list[str]] = {pk: [] for pk in groups}
    for group, member in links:
        if own.get(member):
            members[group].append(own[member])
    out = {pk: own[pk] for pk, kind, _ in meta if kind != RegionKind.GROUP}
    out.update({pk: _sha1("|".join(sorted(found)).encode()) if found else "" for pk, found in members.items()})
    return out


def _stale(sources: dict[int, str]) -> list[int]:
    """The regions whose stored outlines are missing, incomplete or built from another geometry."""
    built: dict[int, set] = {}
    rows = RegionOutline.objects.filter(region_id__in=sources).values_list("region_id", "tolerance", "source_sha1")
    for region_id, tolerance, sha1 in rows:
        built.setdefault(region_id, set()).add((tolerance, sha1))
    return sorted(pk for pk, sha1 in sources.items() if built.get(pk) != {(t, sha1) for t in MAP_TOLERANCES_DEG})


def _write_batch(ids: list[int], sources: dict[int, str]) -> None:
    regions = Region.objects.filter(pk__in=ids).only("pk", "kind", "geometry")
    rows = []
    for region in regions:
        geometry = region_geometries([region]).get(region.pk)
        shapes = (
            [None] * len(MAP_TOLERANCES_DEG) if geometry is None else display_geometries(geometry, MAP_TOLERANCES_DEG)
        )
        for tolerance, shape in zip(sorted(MAP_TOLERANCES_DEG), shapes):
            text = "" if shape is None else json.dumps(shape, separators=(",", ":"))
            rows.append(RegionOutline(region=region, tolerance=tolerance, geojson=text, source_sha1=sources[region.pk]))
    with transaction.atomic():
        RegionOutline.objects.filter(region_id__in=ids).delete()
        RegionOutline.objects.bulk_create(rows, batch_size=500)


def region_outlines_build(*, region_ids=None, rebuild: bool = False, progress=None) -> dict[str, float]:
    """Store the outlines of the given regions (and of the groups they are members of) at every map
    tolerance; all regions by default. Only those whose geometry changed since, or that have none
    stored, are built unless `rebuild`. Returns {"regions": built, "seconds": taken}."""
    started = time.perf_counter()
    if region_ids is not None:
        region_ids = set(region_ids)
        region_ids |= set(Region.objects.filter(members__in=region_ids).values_list("pk", flat=True))
    sources = outline_sources(region_ids)
    todo = sorted(sources) if rebuild else _stale(sources)
    for start in range(0, len(todo), BUILD_BATCH):
        _write_batch(todo[start : start + BUILD_BATCH], sources)
        if progress is not None:
            progress(min(start + BUILD_BATCH, len(todo)), len(todo))
    return {"regions": len(todo), "seconds": round(time.perf_counter() - started, 2)}
