"""The range index: regions, statuses and range polygons in memory, queried by point.

Plain Python + shapely, no Django: `ranges.index_cache.range_index()` builds one from the database,
tests build one from a few in-memory polygons. The taxonomy is not in it: `species` owns the taxon
tree (`species.selectors.taxon_tree`), so a new taxon or synonym needs no rebuild of this index.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely import STRtree

KINDS_MOST_SPECIFIC_FIRST = ("admin2", "admin1", "group", "country")
_GEOMETRY_KINDS = ("admin2", "admin1", "country")  # groups are their members: no geometry of their own


@dataclass(frozen=True, slots=True)
class RegionRecord:
    code: str
    kind: str
    name: str
    parent_code: str | None = None


@dataclass(frozen=True, slots=True)
class RegionHit:
    region: RegionRecord
    snapped: bool = False
    distance_deg: float = 0.0


@dataclass(frozen=True, slots=True)
class StatusRecord:
    taxon_key: str
    region_code: str
    status: str  # native | introduced | invasive
    source: str
    source_url: str = ""
    degree_of_establishment: str = ""
    # A closed-world native source lists every region where the taxon is native, so a region it
    # leaves out is evidence of absence (MDD, AmphibiaWeb, curated lists). An open-world one
    # (BirdLife's country lists, with known omissions) can say "native here", never "not native".
    closed_world: bool = True


NATIVE_ORIGINS = frozenset({"native", "reintroduced"})


@dataclass(frozen=True, slots=True)
class RangeRecord:
    taxon_key: str
    origin: str  # native | reintroduced | introduced | uncertain
    source: str
    source_url: str = ""


@dataclass(frozen=True, slots=True)
class GeofenceRecord:
    """A classifier geofence rule: cited in explanations, never a status."""

    taxon_key: str
    region_code: str
    rule: str  # allow | block
    comment: str
    source: str
    source_url: str = ""


# Region polygons are cut into pieces of at most this many vertices (PostGIS ST_Subdivide-style):
# containment and distance on a small piece cost microseconds, on a 1:500k coast milliseconds.
MAX_PIECE_VERTICES = 256


def subdivide(geometries: np.ndarray, max_vertices: int = MAX_PIECE_VERTICES) -> tuple[np.ndarray, np.ndarray]:
    """Cut polygons into polygon pieces of at most `max_vertices` vertices, halving the bounding
    box along its longer side until each piece is small. Returns (pieces, index of the source
    geometry of each piece). The pieces of a polygon cover exactly it (holes stay holes)."""
    pending, owner = np.asarray(geometries, dtype=object), np.arange(len(geometries))
    out_pieces, out_owner = [], []
    while len(pending):
        parts, part_of = shapely.get_parts(pending, return_index=True)
        pending, owner = parts, owner[part_of]
        polygonal = shapely.get_type_id(pending) == 3  # cuts can leave slivers of lines or points: no area, dropped
        pending, owner = pending[polygonal], owner[polygonal]
        keep = ~shapely.is_empty(pending)
        pending, owner = pending[keep], owner[keep]
        bounds = shapely.bounds(pending)
        width, height = bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]
        small = (shapely.get_num_coordinates(pending) <= max_vertices) | (np.maximum(width, height) < 1e-7)
        out_pieces.append(pending[small]), out_owner.append(owner[small])
        pending, owner, bounds, width, height = (
            pending[~small],
            owner[~small],
            bounds[~small],
            width[~small],
            height[~small],
        )
        if not len(pending):
            break
        xmin, ymin, xmax, ymax = bounds.T
        wide = width >= height
        mid_x, mid_y = (xmin + xmax) / 2, (ymin + ymax) / 2
        first = shapely.intersection(
            pending, shapely.box(xmin, ymin, np.where(wide, mid_x, xmax), np.where(wide, ymax, mid_y))
        )
        second = shapely.intersection(
            pending, shapely.box(np.where(wide, mid_x, xmin), np.where(wide, ymin, mid_y), xmax, ymax)
        )
        pending, owner = np.concatenate([first, second]), np.concatenate([owner, owner])
    return np.concatenate(out_pieces) if out_pieces else np.empty(0, dtype=object), np.concatenate(
        out_owner
    ) if out_owner else np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class _Combo:
    """What a set of containing regions means, computed once per distinct set."""

    hits: tuple[RegionHit, ...]  # the answer when no snap is needed
    codes: tuple[str, ...]
    by_kind: dict  # kind -> [RegionHit], the input of a snap
    snap_kinds: tuple[str, ...]  # kinds to snap (empty: the hits are final)


@dataclass
class RangeIndex:
    regions: list[RegionRecord]
    region_geometries: list
    statuses: list[StatusRecord] = field(default_factory=list)
    ranges: list[RangeRecord] = field(default_factory=list)
    range_geometries: list = field(default_factory=list)
    snap_tolerance_deg: float = 0.1
    version: int = 0
    # group code -> member codes (e.g. US-L48 -> the 48 contiguous states and DC)
    region_groups: dict[str, list[str]] = field(default_factory=dict)
    geofence: list[GeofenceRecord] = field(default_factory=list)
    # The whole region polygons are cut into small pieces at build; only benchmarks and tools that draw
    # or compare the originals need them afterwards. A server process lets them go (about 50 MB).
    keep_region_geometries: bool = True
    # Sources whose absence of a region proves nothing (RangeSource.absence_means_not_native False):
    # their native statuses say `native` where they are, never that a point is outside the range.
    open_world_sources: frozenset[str] = frozenset()
    # Taxonomic groups (e.g. "Mammalia") a source lists every species of (RangeSource.lists_every_species).
    complete_taxon_groups: frozenset[str] = frozenset()

    def __post_init__(self):
        if len(self.regions) != len(self.region_geometries):
            raise ValueError("one geometry per region")
        # Every region with a geometry gets a slot, ordered most specific kind first, then as given:
        # sorting slots sorts hits most specific first.
        rank = {kind: i for i, kind in enumerate(_GEOMETRY_KINDS)}
        picked = sorted(
            (
                (rank[r.kind], i)
                for i, (r, g) in enumerate(zip(self.regions, self.region_geometries))
                if r.kind in rank and g is not None and not g.is_empty
            )
        )
        self._slots: list[RegionRecord] = [self.regions[i] for _, i in picked]
        self._slot_kind: list[str] = [r.kind for r in self._slots]
        self._plain_hit: list[RegionHit] = [RegionHit(r) for r in self._slots]
        self._kinds_present: tuple[str, ...] = tuple(k for k in _GEOMETRY_KINDS if k in set(self._slot_kind))
        pieces, piece_slot = subdivide(np.asarray([self.region_geometries[i] for _, i in picked], dtype=object))
        self._pieces: np.ndarray = pieces
        self._piece_slot: np.ndarray = piece_slot.astype(np.int64)
        self._piece_slot_list: list[int] = self._piece_slot.tolist()
        shapely.prepare(pieces)  # small pieces: cheap to prepare, and the bulk lookup tests them prepared
        self._tree = STRtree(pieces)
        if not self.keep_region_geometries:
            self.region_geometries = [None] * len(self.region_geometries)
        self._combos: dict[tuple[int, ...], _Combo] = {}
        self._groups_of: dict[str, list[RegionRecord]] = defaultdict(list)
        by_code = {r.code: r for r in self.regions}
        for group_code, members in self.region_groups.items():
            group = by_code.get(group_code)
            if group is not None:
                for member in members:
                    self._groups_of[member].append(group)
        # Countries that have admin-1 polygons: a point in one but in none of its states snaps to a state.
        self._has_admin1 = {r.parent_code for r in self.regions if r.kind == "admin1" and r.parent_code}
        self._geofence: dict[tuple[str, str], list[GeofenceRecord]] = defaultdict(list)
        for g in self.geofence:
            self._geofence[(g.taxon_key, g.region_code)].append(g)
        self._region_by_code = {r.code: r for r in self.regions}
        self._status = defaultdict(list)
        self._status_regions_by_taxon = defaultdict(set)
        self._native_regions_by_taxon = defaultdict(set)
        self._closed_native_taxa: set[str] = set()
        self._taxa_by_source: dict[str, int] = {}
        for s in self.statuses:
            self._status[(s.taxon_key, s.region_code)].append(s)
            self._status_regions_by_taxon[s.taxon_key].add(s.region_code)
            if s.status == "native":
                self._native_regions_by_taxon[s.taxon_key].add(s.region_code)
                if s.closed_world and s.source not in self.open_world_sources:
                    self._closed_native_taxa.add(s.taxon_key)
        self._ranges_by_taxon = defaultdict(list)
        for record, geom in zip(self.ranges, self.range_geometries):
            shapely.prepare(geom)
            self._ranges_by_taxon[record.taxon_key].append((record, geom))
        self._native_polygon_taxa = {r.taxon_key for r in self.ranges if r.origin in NATIVE_ORIGINS}
        # What an out_of_range or unknown verdict cites, once per taxon and source, at build: a
        # fox is native in ~130 regions, and listing them per verdict took ~0.5 ms (bench/verdict.py).
        self._cited: dict[tuple[str, bool], dict[tuple[str, str], StatusRecord]] = defaultdict(dict)
        for s in self.statuses:
            self._cited[(s.taxon_key, s.status == "native")].setdefault((s.source, s.source_url), s)
        self._native_codes_sorted = {t: tuple(sorted(codes)) for t, codes in self._native_regions_by_taxon.items()}

    # -- regions -----------------------------------------------------------------------------
    def region(self, code: str) -> RegionRecord | None:
        return self._region_by_code.get(code)

    def regions_at(self, lon: float, lat: float) -> list[RegionHit]:
        """Regions containing the point, most specific first. A point in no region at all (a
        coarse coast) snaps to the nearest regions within the tolerance; a point inside a country
        that has states but in none of them (a state border drawn at another scale) snaps to the
        nearest of that country's states."""
        point = shapely.Point(lon, lat)
        combo = self._combo_at(point)
        return self._snap(point, combo) if combo.snap_kinds else list(combo.hits)

    def regions_at_many(self, lons, lats) -> list[list[RegionHit]]:
        """regions_at for arrays of points: one bulk tree query for all of them, one bulk snap query
        for those that need it."""
        points, combos, inverse = self.combos_many(lons, lats)
        snapped = self.snap_many(points, combos, inverse)
        return [snapped[i] if i in snapped else list(combos[c].hits) for i, c in enumerate(inverse)]

    def combos_many(self, lons, lats) -> tuple[np.ndarray, list[_Combo], list[int]]:
        """(points, distinct region sets, the set of each point): the bulk lookup behind
        regions_at_many and verdicts_many. Points whose combo has snap_kinds need `snap_many`."""
        lons, lats = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
        if len(lons) == 0:
            return shapely.points(lons, lats), [], []
        # Records share coordinates (a site, a rounded grid): each distinct point is looked up once.
        distinct, back = np.unique(lons + 1j * lats, return_inverse=True)
        points, combos, inverse = self._combos_of_distinct(shapely.points(distinct.real, distinct.imag))
        return points.take(back), combos, inverse[back.reshape(-1)].tolist()

    def _combos_of_distinct(self, points) -> tuple[np.ndarray, list[_Combo], np.ndarray]:
        n, n_slots = len(points), len(self._slots) + 1
        # Bounding boxes from the tree, then the prepared pieces (cheaper than a tree predicate,
        # which prepares each point instead).
        point_idx, piece_idx = self._tree.query(points)
        inside = shapely.intersects(self._pieces.take(piece_idx), points.take(point_idx))
        # One (point, slot) pair per region, sorted by point then slot (slot 0 is "none").
        pairs = np.unique(point_idx[inside].astype(np.int64) * n_slots + self._piece_slot[piece_idx[inside]] + 1)
        point_idx, slot_idx = pairs // n_slots, pairs % n_slots
        counts = np.bincount(point_idx, minlength=n)
        width = max(int(counts.max()), 1)
        table = np.zeros((n, width), dtype=np.int64)
        starts = np.cumsum(counts) - counts
        table[point_idx, np.arange(len(pairs)) - starts[point_idx]] = slot_idx
        if width * np.log2(n_slots) < 62:  # each row as one integer: a 1-d unique is much cheaper
            codes = table @ (n_slots ** np.arange(width - 1, -1, -1, dtype=np.int64))
            _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
            rows = table[first]
        else:
            rows, inverse = np.unique(table, axis=0, return_inverse=True)
        combos = [self._combo(tuple(v - 1 for v in row if v)) for row in rows.tolist()]
        return points, combos, inverse.reshape(-1)

    def snap_many(self, points, combos: list[_Combo], inverse: list[int]) -> dict[int, list[RegionHit]]:
        """The hits of the points whose region set needs a snap (point position -> hits), from one
        bulk dwithin query on the pieces."""
        which = [i for i, c in enumerate(inverse) if combos[c].snap_kinds]
        if not which:
            return {}
        snap_points = points.take(which)
        point_idx, piece_idx = self._tree.query(snap_points, predicate="dwithin", distance=self.snap_tolerance_deg)
        distances = shapely.distance(self._pieces.take(piece_idx), snap_points.take(point_idx)).tolist()
        nearest: list[dict[int, float]] = [{} for _ in which]
        slot_of = self._piece_slot_list
        for p, i, d in zip(point_idx.tolist(), piece_idx.tolist(), distances):
            slot = slot_of[i]
            found = nearest[p]
            if d < found.get(slot, np.inf):
                found[slot] = d
        return {i: self._snapped(combos[inverse[i]], found) for i, found in zip(which, nearest)}

    def snap_hits(self, point, combo: _Combo) -> list[RegionHit]:
        return self._snap(point, combo)

    def _combo_at(self, point) -> _Combo:
        idx = self._tree.query(point, predicate="intersects")
        slot_of = self._piece_slot_list
        return self._combo(tuple(sorted({slot_of[i] for i in idx.tolist()})))

    def _combo(self, key: tuple[int, ...]) -> _Combo:
        combo = self._combos.get(key)
        if combo is None:
            by_kind: dict[str, list[RegionHit]] = {}
            for slot in key:
                by_kind.setdefault(self._slot_kind[slot], []).append(self._plain_hit[slot])
            if not by_kind:
                snap_kinds = self._kinds_present
            elif (
                "admin1" not in by_kind
                and "admin1" in self._kinds_present
                and any(h.region.code in self._has_admin1 for h in by_kind.get("country", []))
            ):
                snap_kinds = ("admin1",)
            else:
                snap_kinds = ()
            hits = () if snap_kinds else tuple(self._assemble(by_kind))
            combo = self._combos[key] = _Combo(hits, tuple(h.region.code for h in hits), by_kind, snap_kinds)
        return combo

    def _snap(self, point, combo: _Combo) -> list[RegionHit]:
        """The nearest region(s) of each kind to snap, within the tolerance: a dwithin query on the
        small pieces, then their exact distances (the nearest piece of a region gives its distance)."""
        idx = self._tree.query(point, predicate="dwithin", distance=self.snap_tolerance_deg)
        nearest: dict[int, float] = {}
        if len(idx):
            slot_of = self._piece_slot_list
            for i, d in zip(idx.tolist(), shapely.distance(self._pieces.take(idx), point).tolist()):
                slot = slot_of[i]
                if d < nearest.get(slot, np.inf):
                    nearest[slot] = d
        return self._snapped(combo, nearest)

    def _snapped(self, combo: _Combo, nearest: dict[int, float]) -> list[RegionHit]:
        """The combo's hits plus, for each kind to snap, the region(s) at the least distance."""
        by_kind = dict(combo.by_kind)
        for kind in combo.snap_kinds:
            candidates = [(slot, d) for slot, d in nearest.items() if self._slot_kind[slot] == kind]
            if candidates:
                best = min(d for _, d in candidates)
                by_kind[kind] = [
                    RegionHit(self._slots[slot], snapped=True, distance_deg=d)
                    for slot, d in sorted(candidates)
                    if d == best
                ]
        return self._assemble(by_kind)

    def _assemble(self, by_kind: dict[str, list[RegionHit]]) -> list[RegionHit]:
        if self._groups_of and "admin1" in by_kind:
            groups = {
                g.code: RegionHit(g, snapped=h.snapped, distance_deg=h.distance_deg)
                for h in by_kind["admin1"]
                for g in self._groups_of.get(h.region.code, ())
            }
            if groups:
                by_kind = {**by_kind, "group": list(groups.values())}
        hits = [h for kind in KINDS_MOST_SPECIFIC_FIRST for h in by_kind.get(kind, ())]
        return self._consistent(hits) if any(h.snapped for h in hits) else hits

    def _consistent(self, hits: list[RegionHit]) -> list[RegionHit]:
        """Drop snapped sub-regions whose parent is not among the hits (a snap across a border)."""
        codes = {h.region.code for h in hits}
        return [h for h in hits if not h.snapped or h.region.parent_code is None or h.region.parent_code in codes]

    # -- taxa --------------------------------------------------------------------------------
    def statuses_for(self, taxon_key: str, region_code: str) -> list[StatusRecord]:
        return self._status.get((taxon_key, region_code), [])

    def status_region_codes(self, taxon_key: str) -> set[str]:
        return self._status_regions_by_taxon.get(taxon_key, set())

    def cited_statuses(self, taxon_key: str, *, native: bool) -> list[StatusRecord]:
        """One native (or one alien) record of the taxon per source: what a verdict cites."""
        return list(self._cited.get((taxon_key, native), {}).values())

    def native_region_codes_sorted(self, taxon_key: str) -> tuple[str, ...]:
        return self._native_codes_sorted.get(taxon_key, ())

    def alien_region_codes(self, taxon_key: str) -> list[str]:
        """The regions where the taxon is recorded as introduced or invasive, sorted."""
        return sorted(
            code
            for code in self.status_region_codes(taxon_key)
            if any(r.status != "native" for r in self.statuses_for(taxon_key, code))
        )

    def native_region_codes(self, taxon_key: str) -> set[str]:
        return self._native_regions_by_taxon.get(taxon_key, set())

    def range_polygons(self, taxon_key: str) -> list[tuple[RangeRecord, object]]:
        return self._ranges_by_taxon.get(taxon_key, [])

    def has_range_data(self, taxon_key: str) -> bool:
        return bool(self._status_regions_by_taxon.get(taxon_key) or self._ranges_by_taxon.get(taxon_key))

    def native_range_known(self, taxon_key: str) -> bool:
        """Closed-world native statuses or native range polygons: where the taxon belongs is known,
        so a point outside it is outside. Alien records say only where it does not belong, and an
        open-world list only where it does."""
        return taxon_key in self._closed_native_taxa or taxon_key in self._native_polygon_taxa

    def taxa_count_from(self, source_marker: str) -> int:
        """How many taxa have a closed-world record from a source whose name contains
        `source_marker`: how much of a complete checklist (MDD, AmphibiaWeb) is loaded."""
        count = self._taxa_by_source.get(source_marker)
        if count is None:
            count = self._taxa_by_source[source_marker] = len(
                {s.taxon_key for s in self.statuses if s.closed_world and source_marker in s.source}
            )
        return count

    def geofence_at(self, taxon_key: str, region_codes) -> list[GeofenceRecord]:
        return [g for code in region_codes for g in self._geofence.get((taxon_key, code), ())]
