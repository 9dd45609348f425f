"""The verdict: is taxon T native at point P? A pure function over the range index (DESIGN §5)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from ranges.range_index import RangeIndex, RegionHit, StatusRecord

NATIVE = "native"
INTRODUCED = "introduced"
INVASIVE = "invasive"
OUT_OF_RANGE = "out_of_range"
UNKNOWN = "unknown"
UNCERTAIN = "uncertain"
NO_ANIMAL = "no_animal"
VERDICT_STATUSES = (NATIVE, INTRODUCED, INVASIVE, OUT_OF_RANGE, UNKNOWN, UNCERTAIN, NO_ANIMAL)

ALERT_STATUSES = frozenset({INVASIVE, INTRODUCED, OUT_OF_RANGE})
# When sources disagree about the same region, the more alarming one is reported.
_SEVERITY = {INVASIVE: 3, INTRODUCED: 2, NATIVE: 1}


@dataclass(frozen=True)
class Verdict:
    status: str
    taxon_key: str | None
    explanation: str
    region_code: str | None = None  # the region whose data decided the verdict
    region_codes: tuple[str, ...] = ()  # every region at the point, most specific first
    sources: tuple[dict, ...] = field(default_factory=tuple)
    snapped: bool = False

    @property
    def is_alert(self) -> bool:
        return self.status in ALERT_STATUSES


def _sources(records) -> tuple[dict, ...]:
    seen, out = set(), []
    for r in records:
        key = (r.source, r.source_url)
        if key not in seen:
            seen.add(key)
            out.append({"name": r.source, "url": r.source_url})
    return tuple(out)


def verdict(taxon_key: str, lon: float, lat: float, index: RangeIndex) -> Verdict:
    """The establishment of `taxon_key` at (lon, lat).

    1. Regional statuses, most specific region first. A country-level *native* status does not
       cover a point whose state is missing from the taxon's state-level list (state data wins).
    2. Else range polygons: native (covers, with the snap tolerance) or introduced.
    3. Else out_of_range when the taxon has any range data; unknown when it has none.
    Genus and family keys answer for their member species (see `_verdict_for_group`).
    """
    return verdict_at_hits(taxon_key, lon, lat, index.regions_at(lon, lat), index)


def verdicts_many(taxon_keys, lons, lats, index: RangeIndex) -> list[Verdict]:
    """verdict() for many (taxon, point) pairs: one bulk region lookup (and one bulk snap), then
    one verdict per distinct (taxon, region set) where the answer does not depend on the point."""
    points, combos, inverse = index.combos_many(lons, lats)
    snapped = index.snap_many(points, combos, inverse)
    cache = _verdict_cache(index)
    codes = [c.codes for c in combos]
    out = [None if combos[c].snap_kinds else cache.get((t, codes[c], False)) for t, c in zip(taxon_keys, inverse)]
    missing = [i for i, found in enumerate(out) if found is None]
    if missing:
        taxon_keys = list(taxon_keys)
        lons, lats = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
        for i in missing:
            taxon_key, c = taxon_keys[i], inverse[i]
            found = None if i in snapped else cache.get((taxon_key, codes[c], False))  # filled by an earlier point
            if found is None:
                hits = snapped[i] if i in snapped else list(combos[c].hits)
                found = verdict_at_hits(taxon_key, float(lons[i]), float(lats[i]), hits, index)
            out[i] = found
    return out


# Verdicts that depend only on (taxon, regions at the point, snapped) are kept per index; the
# index is immutable (a data change builds a new one), so the cache needs no invalidation.
_VERDICT_CACHE_MAX = 200_000


def _verdict_cache(index: RangeIndex) -> dict:
    cache = index.__dict__.get("_verdict_cache")
    if cache is None or len(cache) > _VERDICT_CACHE_MAX:
        cache = index.__dict__["_verdict_cache"] = {}
    return cache


def _depends_on_point(taxon_key: str, index: RangeIndex) -> bool:
    """True when range polygons (the taxon's, or its members' for a genus/family) decide the verdict."""
    cache = index.__dict__.setdefault("_depends_on_point", {})
    found = cache.get(taxon_key)
    if found is None:
        found = bool(index.range_polygons(taxon_key))
        if not found and not index.has_range_data(taxon_key):
            found = any(index.range_polygons(m) for m in index.descendants_with_data(taxon_key))
        cache[taxon_key] = found
    return found


def verdict_at_hits(taxon_key: str, lon: float, lat: float, hits: list[RegionHit], index: RangeIndex) -> Verdict:
    """The verdict when the regions at the point are already known."""
    codes = tuple(h.region.code for h in hits)
    snapped = any(h.snapped for h in hits)
    key = (taxon_key, codes, snapped)
    cache = _verdict_cache(index)
    found = cache.get(key)
    if found is None:
        found = _verdict_at_hits(taxon_key, lon, lat, hits, codes, index)
        if not _depends_on_point(taxon_key, index):
            cache[key] = found
    return found


def _verdict_at_hits(taxon_key: str, lon: float, lat: float, hits: list[RegionHit], codes: tuple[str, ...], index: RangeIndex) -> Verdict:
    if not index.has_range_data(taxon_key):
        members = index.descendants_with_data(taxon_key)
        if members:
            return _verdict_for_group(taxon_key, members, lon, lat, index, hits)
    return _verdict_for_taxon(taxon_key, lon, lat, index, hits, codes)


def _verdict_for_taxon(taxon_key: str, lon: float, lat: float, index: RangeIndex, hits: list[RegionHit], codes: tuple[str, ...]) -> Verdict:
    snapped = any(h.snapped for h in hits)
    taxon_regions = index.status_region_codes(taxon_key)
    native_regions = index.native_region_codes(taxon_key)
    for hit in hits:
        records = index.statuses_for(taxon_key, hit.region.code)
        if not records:
            continue
        top: StatusRecord = max(records, key=lambda r: _SEVERITY.get(r.status, 0))
        if top.status == NATIVE and _subregion_list_excludes_point(hit, hits, native_regions, index):
            continue
        where = f"{hit.region.name} ({hit.region.code})"
        return Verdict(
            status=top.status,
            taxon_key=taxon_key,
            explanation=f"{taxon_key} is recorded as {top.status} in {where} by {top.source}.",
            region_code=hit.region.code,
            region_codes=codes,
            sources=_sources(r for r in records if r.status == top.status),
            snapped=snapped,
        )
    polygons = index.range_polygons(taxon_key)
    if polygons:
        point = shapely.Point(lon, lat)
        inside = [(rec, geom) for rec, geom in polygons if _in_range(geom, point, index.snap_tolerance_deg)]
        for origins, status in (({"native", "reintroduced"}, NATIVE), ({"introduced"}, INTRODUCED)):
            matched = [rec for rec, _ in inside if rec.origin in origins]
            if matched:
                return Verdict(status, taxon_key, f"The point lies inside the {status} range of {taxon_key} ({matched[0].source}).", None, codes, _sources(matched), snapped)
    if index.has_range_data(taxon_key):
        sources = _out_of_range_sources(taxon_key, index) + _sources([rec for rec, _ in polygons] + [g for g in index.geofence_at(taxon_key, codes) if g.rule == "allow"])
        place = hits[0].region.name if hits else "this place"
        return Verdict(
            OUT_OF_RANGE,
            taxon_key,
            f"{taxon_key} has range data, and {place} lies outside it: possibly a new introduction. Please report it so an expert can verify."
            + _geofence_hint(taxon_key, codes, index),
            hits[0].region.code if hits else None,
            codes,
            sources,
            snapped,
        )
    return Verdict(UNKNOWN, taxon_key, f"There is no range data for {taxon_key}; we cannot say whether it belongs here.", None, codes, (), snapped)


def _out_of_range_sources(taxon_key: str, index: RangeIndex) -> tuple[dict, ...]:
    """The sources that place the taxon elsewhere: its native records, else all its records (cached per index)."""
    cache = index.__dict__.setdefault("_out_of_range_sources", {})
    if taxon_key not in cache:
        records = [r for code in index.known_region_codes(taxon_key) for r in index.statuses_for(taxon_key, code)]
        native = [r for r in records if r.status == NATIVE]
        cache[taxon_key] = _sources(native or records)
    return cache[taxon_key]


def _geofence_hint(taxon_key: str, codes: tuple[str, ...], index: RangeIndex) -> str:
    """A classifier geofence that allows the taxon here hints at a known (introduced) population;
    it is cited, not trusted: the verdict stays out_of_range until a register says more."""
    allowed = [g for g in index.geofence_at(taxon_key, codes) if g.rule == "allow"]
    if not allowed:
        return ""
    g = allowed[0]
    why = f" ({g.comment})" if g.comment else ""
    return f" Note: {g.source} allows it in {g.region_code}{why}, so a population may already be known there."


def _in_range(geom, point, tolerance: float) -> bool:
    """Covered by the polygon, or within the tolerance outside its outer edge (coarse coasts).
    A point in a hole is outside, however close to the hole's edge."""
    if geom.covers(point):
        return True
    filled = shapely.polygons(shapely.get_exterior_ring(shapely.get_parts(geom)))
    if shapely.covers(filled, point).any():
        return False
    return geom.distance(point) <= tolerance


def _subregion_list_excludes_point(hit: RegionHit, hits: list[RegionHit], taxon_regions: set[str], index: RangeIndex) -> bool:
    """True when the taxon is native in some sub-regions of `hit` (a state-level native list), but
    not in the one at P: the state list is more specific than the country's."""
    below = [h for h in hits if h.region.parent_code == hit.region.code]
    if not below:
        return False
    has_subregion_data = any((r := index.region(code)) is not None and r.parent_code == hit.region.code for code in taxon_regions)
    return has_subregion_data and not any(h.region.code in taxon_regions for h in below)


def _verdict_for_group(taxon_key: str, members: list[str], lon: float, lat: float, index: RangeIndex, hits: list[RegionHit]) -> Verdict:
    """A genus or family gets a verdict when all its members known at P share it."""
    codes = tuple(h.region.code for h in hits)
    member_verdicts = [_verdict_for_taxon(m, lon, lat, index, hits, codes) for m in members]
    known_here = [v for v in member_verdicts if v.status in (NATIVE, INTRODUCED, INVASIVE)]
    statuses = {v.status for v in known_here}
    sources = tuple(s for v in member_verdicts for s in v.sources)
    if len(statuses) == 1:
        status = statuses.pop()
        names = ", ".join(v.taxon_key for v in known_here)
        return Verdict(status, taxon_key, f"Every member of {taxon_key} recorded here ({names}) is {status}.", known_here[0].region_code, codes, sources[:10])
    if not known_here and all(v.status == OUT_OF_RANGE for v in member_verdicts):
        return Verdict(OUT_OF_RANGE, taxon_key, f"No member of {taxon_key} is recorded here, and all have range data elsewhere: possibly a new introduction.", codes[0] if codes else None, codes, sources[:10])
    detail = ", ".join(f"{v.taxon_key}: {v.status}" for v in member_verdicts)
    return Verdict(UNCERTAIN, taxon_key, f"Members of {taxon_key} differ here ({detail}); a species-level identification is needed.", None, codes, sources[:10])
