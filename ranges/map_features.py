"""GeoJSON for maps: region outlines and a taxon's range with its regional statuses, simplified to a
small set of tolerances and cached in the map cache (apart from the broker) by the range data version."""

from __future__ import annotations

import hashlib
import json
import logging

import shapely
from django.conf import settings
from django.core.cache import caches

from core.errors import ServiceError
from ml.taxonomy import RANK_ORDER
from ranges.geojson import DISPLAY_TOLERANCE_DEG, feature_collection, map_feature
from ranges.index_cache import data_version
from ranges.models import (
    Establishment,
    RangePolygon,
    Region,
    RegionalStatus,
    RegionKind,
)
from ranges.selectors import taxon_and_descendant_ids
from species.models import Rank, Taxon

log = logging.getLogger(__name__)
MAP_CACHE_SECONDS = 24 * 3600


# The broadest taxon whose range is drawn: a family is its members' ranges together; an order or a
# kingdom would be thousands of ranges (a kingdom: 3.5 s and 17.6 MB per request, issue 23 High).
BROADEST_MAPPED_RANK = Rank.FAMILY


class RangeTooBroad(ServiceError):
    code = "range_too_broad"


def species_range_geojson(taxon: Taxon, *, tolerance: float = DISPLAY_TOLERANCE_DEG) -> dict:
    """The taxon's range as a GeoJSON FeatureCollection simplified to `tolerance` (degrees)."""
    if taxon.rank in RANK_ORDER and RANK_ORDER.index(taxon.rank) < RANK_ORDER.index(BROADEST_MAPPED_RANK):
        raise RangeTooBroad(
            f"a {taxon.rank} is too broad to draw; ask for a family, genus or species",
            fields={"taxon": [f"ranges are drawn down from the {BROADEST_MAPPED_RANK} rank"]},
        )
    key = f"taxon:{taxon.pk}:{tolerance!r}"
    return _map_cached(key, lambda: feature_collection(species_range_features(taxon, tolerance=tolerance)))


def region_geojson(
    *, codes: list[str] | None = None, kind: str | None = None, tolerance: float = DISPLAY_TOLERANCE_DEG
) -> dict:
    """Regions by code (in the order asked) or kind as a GeoJSON FeatureCollection simplified to
    `tolerance` (degrees). Regions by code are cached one region each, so any order or mix of codes
    reads what earlier requests built (issue 23, High: shuffled codes each missed the cache)."""
    if codes is None:
        key = f"regions:{kind}:{tolerance!r}"
        return _map_cached(key, lambda: feature_collection(region_features(kind=kind, tolerance=tolerance)))
    return feature_collection(_region_features_cached(codes, tolerance))


def map_cache():
    """The map payloads' own cache (settings: CACHES["maps"], apart from throttles and the broker)."""
    return caches["maps"]


def _map_cache_key(key: str) -> str:
    return "ranges.map:" + hashlib.sha1(f"{data_version()}:{key}".encode()).hexdigest()


def _keep(cache_key: str, payload) -> bool:
    """Whether a payload is small enough to keep (RANGEWATCH_MAP_CACHE_ENTRY_MAX_BYTES)."""
    size = len(json.dumps(payload, separators=(",", ":")))
    if size > settings.RANGEWATCH_MAP_CACHE_ENTRY_MAX_BYTES:
        log.info("map %s not cached: %d bytes over the entry cap", cache_key, size)
        return False
    return True


def _map_cached(key: str, build):
    """Map payloads from the map cache: simplifying a continent's countries takes about a second,
    reading it back a few ms (bench/maps.py). Keyed by the range data version, which every write of
    range data moves, so an entry is never read stale; old entries expire (or are evicted first when
    the cache is full). An entry over the size cap is built for the request and not kept."""
    cache, cache_key = map_cache(), _map_cache_key(key)
    payload = cache.get(cache_key)
    if payload is None:
        payload = build()
        if _keep(cache_key, payload):
            cache.set(cache_key, payload, MAP_CACHE_SECONDS)
    return payload


def _region_features_cached(codes: list[str], tolerance: float) -> list[dict]:
    """The features of regions by code, in that order, each region built once per tolerance. A code
    with no region or no outline is cached as an empty entry too, so unknown codes cost one read."""
    cache = map_cache()
    keys = {code: _map_cache_key(f"region:{code}:{tolerance!r}") for code in dict.fromkeys(codes)}
    found = cache.get_many(list(keys.values()))
    missing = [code for code, key in keys.items() if key not in found]
    if missing:
        built = {f["properties"]["region"]: f for f in region_features(codes=missing, tolerance=tolerance)}
        fresh = {keys[code]: built.get(code, {}) for code in missing}
        cache.set_many({k: v for k, v in fresh.items() if _keep(k, v)}, MAP_CACHE_SECONDS)
        found.update(fresh)
    return [found[keys[code]] for code in keys if found[keys[code]]]


def species_range_features(taxon: Taxon, *, tolerance: float = DISPLAY_TOLERANCE_DEG) -> list[dict]:
    """The taxon's range polygons and the regions where it has a status, as GeoJSON features. A genus
    or family (an answer rolled up from its species) shows the ranges of its members."""
    taxon_ids = taxon_and_descendant_ids(taxon)
    features = []
    polygons = RangePolygon.objects.filter(taxon_id__in=taxon_ids).values_list(
        "pk", "taxon__scientific_name", "origin", "presence", "source", "source_url", "geometry"
    )
    for pk, name, origin, presence, source, url, wkb in polygons:
        features.append(
            map_feature(
                geometry=shapely.from_wkb(bytes(wkb)),
                tolerance=tolerance,
                kind="range_polygon",
                status=origin,
                id=pk,
                taxa=[name],
                presence=presence,
                sources=[{"name": source, "url": url}],
            )
        )
    by_region: dict[int, list] = {}
    statuses = RegionalStatus.objects.filter(taxon_id__in=taxon_ids).select_related("region", "taxon")
    for status in statuses.order_by("region__code", "taxon__scientific_name", "source"):
        by_region.setdefault(status.region_id, []).append(status)
    geometries = region_geometries([rows[0].region for rows in by_region.values()])
    for rows in by_region.values():
        region = rows[0].region
        if region.pk not in geometries:
            continue
        features.append(
            map_feature(
                geometry=geometries[region.pk],
                tolerance=tolerance,
                kind="region",
                status=_shown_status(rows),
                region=region.code,
                region_name=region.name,
                region_kind=region.kind,
                taxa=sorted({r.taxon.scientific_name for r in rows}),
                sources=[{"name": r.source, "url": r.source_url, "status": r.status} for r in rows],
            )
        )
    return [f for f in features if f is not None]


_ALARM = {Establishment.NATIVE: 1, Establishment.INTRODUCED: 2, Establishment.INVASIVE: 3}


def _shown_status(rows) -> str:
    """The status a region is drawn with. Per taxon, the most alarming of its sources (registers and
    range lists disagree; all are cited). Across the members of a genus or family, native where any
    member is native: the group belongs there."""
    per_taxon: dict[int, list[str]] = {}
    for row in rows:
        per_taxon.setdefault(row.taxon_id, []).append(row.status)
    shown = {max(found, key=_ALARM.__getitem__) for found in per_taxon.values()}
    return Establishment.NATIVE if Establishment.NATIVE in shown else max(shown, key=_ALARM.__getitem__)


def region_features(
    *, codes: list[str] | None = None, kind: str | None = None, tolerance: float = DISPLAY_TOLERANCE_DEG
) -> list[dict]:
    """Regions by code (in that order) or every region of a kind, as GeoJSON features: the regions
    of a verdict, or the country outlines a map draws when no tile layer is configured."""
    rows = Region.objects.all()
    if codes is not None:
        rows = rows.filter(code__in=codes)
    if kind is not None:
        rows = rows.filter(kind=kind)
    regions = sorted(rows, key=lambda r: codes.index(r.code)) if codes is not None else list(rows.order_by("code"))
    geometries = region_geometries(regions)
    features = [
        map_feature(
            geometry=geometries[r.pk],
            tolerance=tolerance,
            kind="region",
            region=r.code,
            region_name=r.name,
            region_kind=r.kind,
        )
        for r in regions
        if r.pk in geometries
    ]
    return [f for f in features if f is not None]


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
