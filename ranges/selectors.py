"""Reads of range data: the per-process range index, regions at a point, contacts, GeoJSON for maps."""

from __future__ import annotations

import ctypes
import datetime
import gc
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from sys import intern

import shapely
from django.conf import settings
from django.core.cache import caches

from core.errors import ServiceError
from ml.taxonomy import RANK_ORDER
from ranges.geojson import DISPLAY_TOLERANCE_DEG, feature_collection, map_feature
from ranges.identification import Identification, IdentificationThresholds, identify
from ranges.models import (
    FALLBACK_REGION_CODE,
    Contact,
    DataVersion,
    Establishment,
    GeofenceEntry,
    RangePolygon,
    RangeSource,
    Region,
    RegionalStatus,
    RegionKind,
)
from ranges.range_index import GeofenceRecord, RangeIndex, RangeRecord, RegionRecord, StatusRecord
from ranges.verdict import Verdict, verdict
from species.models import Rank, Taxon
from species.selectors import taxon_key, taxon_keys_by_id, taxon_tree

log = logging.getLogger(__name__)
_lock = threading.Lock()
_cached: RangeIndex | None = None
_freeze_after_build = False  # set by range_index_warm in server processes
MAP_CACHE_SECONDS = 24 * 3600


def data_version() -> int:
    row = DataVersion.objects.filter(key="ranges").values_list("version", flat=True).first()
    return int(row or 0)


def range_index() -> RangeIndex:
    """The index for this process, rebuilt when the data version moves (no restart needed)."""
    global _cached
    version = data_version()
    current = _cached  # one read: another thread may be replacing it
    if current is not None and current.version == version:
        return current
    with _lock:
        if _cached is None or _cached.version != version:
            _cached = None  # the old index goes before the new one is built: never two in memory
            _cached = build_range_index(version, keep_region_geometries=False)
            if _freeze_after_build:
                _gc_freeze()
            release_freed_memory()
    return _cached


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


def verdict_at(taxon_key: str, lon: float, lat: float, *, free_roaming: bool = False) -> Verdict:
    """The verdict for a taxon (by its key in the taxon tree) at a point, on this process's range
    index and taxon tree."""
    return verdict(taxon_key, lon, lat, range_index(), taxon_tree(), free_roaming=free_roaming)


def verdict_for_taxon(taxon: Taxon, lon: float, lat: float, *, free_roaming: bool = False) -> Verdict:
    """verdict_at for a taxon row: its key names the right branch of a homonym (Proboscidea)."""
    return verdict_at(taxon_key(taxon), lon, lat, free_roaming=free_roaming)


def identification_thresholds() -> IdentificationThresholds:
    return IdentificationThresholds(
        confidence=settings.RANGEWATCH_CONFIDENCE_THRESHOLD,
        alert=settings.RANGEWATCH_ALERT_MIN_SCORE,
        review=settings.RANGEWATCH_REVIEW_MIN_SCORE,
        prior_floor=settings.RANGEWATCH_PRIOR_FLOOR,
        domestic=settings.RANGEWATCH_DOMESTIC_MIN_SCORE,
    )


def identify_here(*, taxon_scores: dict[str, float], lon: float, lat: float) -> Identification:
    """The classifier's scores named and judged at the point (ranges.identification.identify)."""
    return identify(
        taxon_scores,
        lon,
        lat,
        range_index(),
        taxon_tree(),
        identification_thresholds(),
        top_k=settings.RANGEWATCH_TOP_K,
    )


def range_index_clear() -> None:
    """Forget this process's index (tests; the version check covers production)."""
    global _cached
    _cached = None


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


def contacts_for_regions(region_codes: list[str] | tuple[str, ...]) -> list[Contact]:
    """Active contacts of the most specific region that has any, else the next broader one."""
    by_region: dict[str, list[Contact]] = {}
    for contact in (
        Contact.objects.filter(region__code__in=region_codes, is_active=True)
        .select_related("region")
        .order_by("kind", "organisation")
    ):
        by_region.setdefault(contact.region.code, []).append(contact)
    for code in region_codes:
        if by_region.get(code):
            return by_region[code]
    return []


def contacts_or_fallback(region_codes: list[str] | tuple[str, ...]) -> list[Contact]:
    """What a user is told to call: the local contacts (as contacts_for_regions), else the global
    fallback ones, which contact_snapshot labels `is_fallback`. Alert delivery keeps to local contacts."""
    return contacts_for_regions(region_codes) or contacts_for_regions([FALLBACK_REGION_CODE])


def contact_snapshot(contact) -> dict:
    return {
        "region": contact.region.code,
        "region_name": contact.region.name,
        "kind": contact.kind,
        "organisation": contact.organisation,
        "phone": contact.phone,
        "email": contact.email,
        "url": contact.url,
        "hours": contact.hours,
        "source_url": contact.source_url,
        "verified_on": contact.verified_on.isoformat() if contact.verified_on else None,
        "is_fallback": contact.region.code == FALLBACK_REGION_CODE,
    }


def regions_by_codes(codes) -> dict[str, Region]:
    return {r.code: r for r in Region.objects.filter(code__in=codes).defer("geometry")}


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


def taxon_and_descendant_ids(taxon: Taxon) -> list[int]:
    """The taxon and everything below it in the tree (a family: its genera, species, subspecies)."""
    found, frontier = {taxon.pk}, [taxon.pk]
    while frontier:
        children = Taxon.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)
        frontier = [pk for pk in children if pk not in found]
        found.update(frontier)
    return sorted(found)


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


@dataclass(frozen=True)
class CountryContactCoverage:
    """A country: taxa recorded invasive in it (or in its states), and its active contacts (its own and its states')."""

    code: str
    name: str
    invasive_taxa: int
    contacts: int
    last_verified: datetime.date | None

    @property
    def state(self) -> str:
        """ "verified" (a local body whose page was checked), "unverified" (local bodies, none checked
        yet, each with its source) or "fallback" (no local body: answers name the global fallback)."""
        if not self.contacts:
            return "fallback"
        return "verified" if self.last_verified else "unverified"


def country_contact_coverage(*, kingdom: str | None = None) -> list[CountryContactCoverage]:
    """Every country, most invasive taxa first: whom the product can name there, and how fresh that is.
    With `kingdom` (e.g. "Animalia"), only invasive taxa of that kingdom count."""
    parents, kinds = {}, {}
    for rid, kind, parent_id in Region.objects.values_list("id", "kind", "parent_id"):
        parents[rid], kinds[rid] = parent_id, kind

    def country_of(rid):
        while rid is not None and kinds.get(rid) != RegionKind.COUNTRY:
            rid = parents.get(rid)
        return rid

    invasive: dict[int, set[int]] = {}
    invasive_rows = RegionalStatus.objects.filter(status=Establishment.INVASIVE).values_list("region_id", "taxon_id")
    in_kingdom = _taxa_in_kingdom(kingdom) if kingdom else None
    for rid, taxon_id in invasive_rows.iterator(chunk_size=5000):
        if in_kingdom is not None and taxon_id not in in_kingdom:
            continue
        invasive.setdefault(country_of(rid), set()).add(taxon_id)
    contacts: dict[int, int] = {}
    verified: dict[int, datetime.date] = {}
    for rid, verified_on in Contact.objects.filter(is_active=True).values_list("region_id", "verified_on"):
        country = country_of(rid)
        contacts[country] = contacts.get(country, 0) + 1
        if verified_on and (country not in verified or verified_on > verified[country]):
            verified[country] = verified_on
    rows = [
        CountryContactCoverage(
            code=code,
            name=name,
            invasive_taxa=len(invasive.get(rid, ())),
            contacts=contacts.get(rid, 0),
            last_verified=verified.get(rid),
        )
        for rid, code, name in Region.objects.filter(kind=RegionKind.COUNTRY).values_list("id", "code", "name")
    ]
    return sorted(rows, key=lambda row: (-row.invasive_taxa, row.code))


def _taxa_in_kingdom(kingdom: str) -> set[int]:
    """Ids of the taxa whose lineage reaches the kingdom `kingdom`."""
    parent_of = dict(Taxon.objects.values_list("pk", "parent_id"))
    roots = set(Taxon.objects.filter(rank="kingdom", scientific_name=kingdom).values_list("pk", flat=True))
    inside: dict[int, bool] = {pk: True for pk in roots}
    for pk in parent_of:
        path, node = [], pk
        while node is not None and node not in inside:
            path.append(node)
            node = parent_of.get(node)
        found = inside.get(node, False) if node is not None else False
        for seen in path:
            inside[seen] = found
    return {pk for pk, yes in inside.items() if yes}


def species_regional_statuses(taxon: Taxon) -> dict[str, list[dict]]:
    """Where the taxon (or, for a genus or family, a member) has a status, grouped for reading:
    {"native": [...], "alien": [...]}, each a region (code, name, kind) with its statuses and sources,
    by name. Alien means introduced or invasive."""
    grouped: dict[str, dict[str, dict]] = {"native": {}, "alien": {}}
    rows = RegionalStatus.objects.filter(taxon_id__in=taxon_and_descendant_ids(taxon)).select_related("region")
    for row in rows.order_by("region__name", "source"):
        group = "native" if row.status == "native" else "alien"
        region = row.region
        blank = {"code": region.code, "name": region.name, "kind": region.kind, "statuses": set(), "sources": []}
        entry = grouped[group].setdefault(region.code, blank)
        entry["statuses"].add(row.status)
        entry["sources"].append({"name": row.source, "url": row.source_url})
    return {
        group: [{**entry, "statuses": sorted(entry["statuses"])} for entry in regions.values()]
        for group, regions in grouped.items()
    }
