"""GeoJSON for maps: region outlines and a taxon's range with its regional statuses, simplified to a
small set of tolerances. Region outlines are read as stored (ranges.outlines: built when region
geometry is written); a taxon's range polygons are simplified once per tolerance and cached in the
map cache (apart from the broker) by the range data version."""

from __future__ import annotations

import hashlib
import json
import logging

import shapely
from django.conf import settings
from django.core.cache import caches
from django.db.models import Exists, OuterRef, Subquery

from core.errors import ServiceError
from ml.taxonomy import RANK_ORDER
from ranges.geojson import DISPLAY_TOLERANCE_DEG, MAP_TOLERANCES_DEG, map_feature
from ranges.index_cache import data_version
from ranges.models import Establishment, RangePolygon, Region, RegionalStatus, RegionOutline
from ranges.outlines import outline_text, region_geometries
from ranges.selectors import taxon_and_descendant_ids
from species.models import Rank, Taxon

log = logging.getLogger(__name__)
MAP_CACHE_SECONDS = 24 * 3600


# The broadest taxon whose range is drawn: a family is its members' ranges together; an order or a
# kingdom would be thousands of ranges (a kingdom: 3.5 s and 17.6 MB per request, issue 23 High).
BROADEST_MAPPED_RANK = Rank.FAMILY


class RangeTooBroad(ServiceError):
    code = "range_too_broad"


def species_range_geojson(taxon: Taxon, *, tolerance: float = DISPLAY_TOLERANCE_DEG) -> str:
    """The taxon's range as a GeoJSON FeatureCollection simplified to `tolerance` (degrees), as JSON
    text (the stored outlines go out as stored, not parsed and written again), with a "taxon" member."""
    if taxon.rank in RANK_ORDER and RANK_ORDER.index(taxon.rank) < RANK_ORDER.index(BROADEST_MAPPED_RANK):
        raise RangeTooBroad(
            f"a {taxon.rank} is too broad to draw; ask for a family, genus or species",
            fields={"taxon": [f"ranges are drawn down from the {BROADEST_MAPPED_RANK} rank"]},
        )
    return feature_collection_text(
        species_range_features(taxon, tolerance=tolerance),
        taxon={"id": taxon.pk, "scientific_name": taxon.scientific_name},
    )


def region_geojson(
    *, codes: list[str] | None = None, kind: str | None = None, tolerance: float = DISPLAY_TOLERANCE_DEG
) -> str:
    """Regions by code (in the order asked) or kind as a GeoJSON FeatureCollection simplified to
    `tolerance` (degrees), as JSON text, from the stored outlines: one query, whatever the codes and
    their order (issue 23: shuffled codes, then every write of range data, made the map cache cold)."""
    return feature_collection_text(region_features(codes=codes, kind=kind, tolerance=tolerance))


def feature_collection_text(features: list[str], **members) -> str:
    """A FeatureCollection of features given as JSON text, with more top-level members."""
    more = "".join(f",{json.dumps(k)}:{_dumps(v)}" for k, v in members.items())
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]" + more + "}"


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def map_cache():
    """The map payloads' own cache (settings: CACHES["maps"], apart from throttles and the broker)."""
    return caches["maps"]


def _map_cache_key(key: str) -> str:
    return "ranges.map:" + hashlib.sha1(f"{data_version()}:{key}".encode()).hexdigest()


def _keep(cache_key: str, payload: str) -> bool:
    """Whether a payload (JSON text) is small enough to keep (RANGEWATCH_MAP_CACHE_ENTRY_MAX_BYTES)."""
    size = len(payload)
    if size > settings.RANGEWATCH_MAP_CACHE_ENTRY_MAX_BYTES:
        log.info("map %s not cached: %d bytes over the entry cap", cache_key, size)
        return False
    return True


def _map_cached(key: str, build):
    """Map payloads from the map cache: simplifying a taxon's range polygons takes up to seconds,
    reading them back a few ms (bench/maps.py). Keyed by the range data version, which every write of
    range data moves, so an entry is never read stale; old entries expire (or are evicted first when
    the cache is full). An entry over the size cap is built for the request and not kept."""
    cache, cache_key = map_cache(), _map_cache_key(key)
    payload = cache.get(cache_key)
    if payload is None:
        payload = build()
        if _keep(cache_key, payload):
            cache.set(cache_key, payload, MAP_CACHE_SECONDS)
    return payload


def species_range_features(taxon: Taxon, *, tolerance: float = DISPLAY_TOLERANCE_DEG) -> list[str]:
    """The taxon's range polygons and the regions where it has a status, as GeoJSON features (JSON
    text). A genus or family (an answer rolled up from its species) shows the ranges of its members.
    The polygons are the taxon's own (cached per taxon and tolerance); the regions' outlines are stored."""
    taxon_ids = taxon_and_descendant_ids(taxon)
    polygons = _map_cached(
        f"taxon-polygons:{taxon.pk}:{tolerance!r}",
        lambda: ",".join(_dumps(f) for f in range_polygon_features(taxon_ids, tolerance=tolerance)),
    )
    return ([polygons] if polygons else []) + _status_region_features(taxon_ids, tolerance)


def range_polygon_features(taxon_ids, *, tolerance: float = DISPLAY_TOLERANCE_DEG) -> list[dict]:
    """The range polygons of these taxa simplified to `tolerance`, as GeoJSON features (the costly part)."""
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
    return [f for f in features if f is not None]


_STATUS_FIELDS = ("region_id", "taxon_id", "taxon__scientific_name", "status", "source", "source_url")


def _status_region_features(taxon_ids, tolerance: float) -> list[str]:
    """The regions where these taxa have a status, drawn with the stored outlines and the statuses."""
    by_region: dict[int, list[dict]] = {}
    statuses = RegionalStatus.objects.filter(taxon_id__in=taxon_ids).values(*_STATUS_FIELDS)
    for row in statuses.order_by("region__code", "taxon__scientific_name", "source"):
        by_region.setdefault(row["region_id"], []).append(row)
    features = []
    for region, geometry in _outlined(Region.objects.filter(pk__in=by_region), tolerance):
        rows = by_region[region["id"]]
        properties = {
            "status": _shown_status(rows),
            **_region_properties(region),
            "taxa": sorted({r["taxon__scientific_name"] for r in rows}),
            "sources": [{"name": r["source"], "url": r["source_url"], "status": r["status"]} for r in rows],
        }
        features.append(_feature(geometry, properties))
    return features


_ALARM = {Establishment.NATIVE: 1, Establishment.INTRODUCED: 2, Establishment.INVASIVE: 3}


def _shown_status(rows) -> str:
    """The status a region is drawn with. Per taxon, the most alarming of its sources (registers and
    range lists disagree; all are cited). Across the members of a genus or family, native where any
    member is native: the group belongs there."""
    per_taxon: dict[int, list[str]] = {}
    for row in rows:
        per_taxon.setdefault(row["taxon_id"], []).append(row["status"])
    shown = {max(found, key=_ALARM.__getitem__) for found in per_taxon.values()}
    return Establishment.NATIVE if Establishment.NATIVE in shown else max(shown, key=_ALARM.__getitem__)


def region_features(
    *, codes: list[str] | None = None, kind: str | None = None, tolerance: float = DISPLAY_TOLERANCE_DEG
) -> list[str]:
    """Regions by code (in that order) or every region of a kind, as GeoJSON features: the regions
    of a verdict, or the country outlines a map draws when no tile layer is configured (JSON text)."""
    rows = Region.objects.all()
    if codes is not None:
        rows = rows.filter(code__in=codes)
    if kind is not None:
        rows = rows.filter(kind=kind)
    found = _outlined(rows, tolerance)
    if codes is not None:
        order = {code: i for i, code in enumerate(codes)}
        found.sort(key=lambda item: order[item[0]["code"]])
    return [_feature(geometry, _region_properties(region)) for region, geometry in found]


def _region_properties(region: dict) -> dict:
    return {"region": region["code"], "region_name": region["name"], "region_kind": region["kind"]}


def _feature(geometry: str, properties: dict) -> str:
    """A region's Feature as JSON text around its outline's text, which is not parsed."""
    return (
        '{"type":"Feature","geometry":' + geometry + ',"properties":' + _dumps({"kind": "region", **properties}) + "}"
    )


def _outlined(regions, tolerance: float) -> list[tuple[dict, str]]:
    """(id, code, name, kind; outline) of the regions that have an outline at `tolerance`, by code,
    in one query that reads the stored outline and never the region's geometry. A region with none
    stored (a database from before them, or a tolerance off the map set) is simplified here, logged."""
    stored = RegionOutline.objects.filter(region=OuterRef("pk"), tolerance=tolerance)
    rows = list(
        regions.annotate(outline=Subquery(stored.values("geojson")[:1]), built=Exists(stored))
        .order_by("code")
        .values("id", "code", "name", "kind", "outline", "built")
    )
    missing = [row["id"] for row in rows if not row["built"]]
    computed = _computed_outlines(missing, tolerance) if missing else {}
    found = []
    for row in rows:
        outline = row["outline"] if row["built"] else computed.get(row["id"])
        if outline:  # "" stored: nothing left at this tolerance
            found.append((row, outline))
    return found


def _computed_outlines(region_ids: list[int], tolerance: float) -> dict[int, str]:
    """Outlines simplified on the request path: whole geometries loaded, seconds for big countries."""
    if tolerance in MAP_TOLERANCES_DEG:
        log.warning(
            "%d region outlines not stored at %s (run manage.py build_region_outlines): simplifying them now",
            len(region_ids),
            tolerance,
        )
    geometries = region_geometries(Region.objects.filter(pk__in=region_ids).only("pk", "kind", "geometry"))
    texts = {pk: outline_text(geometry, tolerance) for pk, geometry in geometries.items()}
    return {pk: text for pk, text in texts.items() if text is not None}
