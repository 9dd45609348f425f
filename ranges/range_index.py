"""The range index: regions, statuses and range polygons in memory, queried by point.

Plain Python + shapely, no Django: `ranges.selectors.range_index()` builds one from the database,
tests build one from a few in-memory polygons.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely import STRtree

KINDS_MOST_SPECIFIC_FIRST = ("admin2", "admin1", "group", "country")
_GEOMETRY_KINDS = ("admin2", "admin1", "country")  # groups are their members: no geometry of their own


@dataclass(frozen=True)
class RegionRecord:
    code: str
    kind: str
    name: str
    parent_code: str | None = None


@dataclass(frozen=True)
class RegionHit:
    region: RegionRecord
    snapped: bool = False
    distance_deg: float = 0.0


@dataclass(frozen=True)
class StatusRecord:
    taxon_key: str
    region_code: str
    status: str  # native | introduced | invasive
    source: str
    source_url: str = ""
    degree_of_establishment: str = ""


@dataclass(frozen=True)
class RangeRecord:
    taxon_key: str
    origin: str  # native | reintroduced | introduced | uncertain
    source: str
    source_url: str = ""


@dataclass(frozen=True)
class GeofenceRecord:
    """A classifier geofence rule: cited in explanations, never a status."""

    taxon_key: str
    region_code: str
    rule: str  # allow | block
    comment: str
    source: str
    source_url: str = ""


@dataclass
class _KindTree:
    records: list[RegionRecord]
    geometries: np.ndarray
    tree: STRtree
    # Simplified copies for the nearest-region snap: distances to 1:500k coasts cost milliseconds.
    snap_tree: STRtree | None = None


@dataclass
class RangeIndex:
    regions: list[RegionRecord]
    region_geometries: list
    statuses: list[StatusRecord] = field(default_factory=list)
    ranges: list[RangeRecord] = field(default_factory=list)
    range_geometries: list = field(default_factory=list)
    # taxon key -> parent key, for genus/family verdicts over their member species
    taxon_parents: dict[str, str | None] = field(default_factory=dict)
    snap_tolerance_deg: float = 0.1
    version: int = 0
    # group code -> member codes (e.g. US-L48 -> the 48 contiguous states and DC)
    region_groups: dict[str, list[str]] = field(default_factory=dict)
    geofence: list[GeofenceRecord] = field(default_factory=list)

    def __post_init__(self):
        if len(self.regions) != len(self.region_geometries):
            raise ValueError("one geometry per region")
        self._by_kind: dict[str, _KindTree] = {}
        for kind in _GEOMETRY_KINDS:
            picked = [(r, g) for r, g in zip(self.regions, self.region_geometries) if r.kind == kind and g is not None and not g.is_empty]
            if picked:
                geoms = np.asarray([g for _, g in picked], dtype=object)
                shapely.prepare(geoms)
                simple = shapely.simplify(geoms, 0.01, preserve_topology=True)
                self._by_kind[kind] = _KindTree([r for r, _ in picked], geoms, STRtree(geoms), STRtree(simple))
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
        for s in self.statuses:
            self._status[(s.taxon_key, s.region_code)].append(s)
            self._status_regions_by_taxon[s.taxon_key].add(s.region_code)
            if s.status == "native":
                self._native_regions_by_taxon[s.taxon_key].add(s.region_code)
        self._ranges_by_taxon = defaultdict(list)
        for record, geom in zip(self.ranges, self.range_geometries):
            shapely.prepare(geom)
            self._ranges_by_taxon[record.taxon_key].append((record, geom))
        self._children = defaultdict(list)
        for key, parent in self.taxon_parents.items():
            if parent:
                self._children[parent].append(key)

    # -- regions -----------------------------------------------------------------------------
    def region(self, code: str) -> RegionRecord | None:
        return self._region_by_code.get(code)

    def regions_at(self, lon: float, lat: float) -> list[RegionHit]:
        """Regions containing the point, most specific first. A point in no region at all (a
        coarse coast) snaps to the nearest regions within the tolerance; a point inside a country
        that has states but in none of them (a state border drawn at another scale) snaps to the
        nearest of that country's states."""
        point = shapely.Point(lon, lat)
        found = {}
        for kind, kt in self._by_kind.items():
            # Bounding boxes from the tree, then the prepared polygons: a tree predicate would
            # prepare the point instead and test it against unprepared 1:500k polygons.
            idx = kt.tree.query(point)
            if len(idx):
                found[kind] = idx[shapely.intersects(kt.geometries.take(idx), point)].tolist()
        return self._hits(point, found)

    def regions_at_many(self, lons, lats) -> list[list[RegionHit]]:
        """regions_at for arrays of points: one bulk tree query per kind."""
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        per_point: list[dict[str, list[int]]] = [{} for _ in range(len(points))]
        for kind, kt in self._by_kind.items():
            point_idx, geom_idx = kt.tree.query(points)
            inside = shapely.intersects(kt.geometries.take(geom_idx), points.take(point_idx))
            for p, g in zip(point_idx[inside].tolist(), geom_idx[inside].tolist()):
                per_point[p].setdefault(kind, []).append(g)
        return [self._hits(point, found) for point, found in zip(points, per_point)]

    def _hits(self, point, found: dict[str, list[int]]) -> list[RegionHit]:
        by_kind: dict[str, list[RegionHit]] = {}
        for kind, idx in found.items():
            if len(idx):
                records = self._by_kind[kind].records
                by_kind[kind] = [RegionHit(records[i]) for i in sorted(idx)]
        if not by_kind:
            for kind, kt in self._by_kind.items():
                near = self._nearest(kt, point)
                if near:
                    by_kind[kind] = near
        elif "admin1" not in by_kind and "admin1" in self._by_kind and any(h.region.code in self._has_admin1 for h in by_kind.get("country", [])):
            near = self._nearest(self._by_kind["admin1"], point)
            if near:
                by_kind["admin1"] = near
        if self._groups_of and "admin1" in by_kind:
            groups = {g.code: RegionHit(g, snapped=h.snapped, distance_deg=h.distance_deg) for h in by_kind["admin1"] for g in self._groups_of.get(h.region.code, ())}
            if groups:
                by_kind["group"] = list(groups.values())
        hits = [h for kind in KINDS_MOST_SPECIFIC_FIRST for h in by_kind.get(kind, ())]
        return self._consistent(hits) if any(h.snapped for h in hits) else hits

    def _nearest(self, kt: _KindTree, point) -> list[RegionHit]:
        """The nearest region(s) within the tolerance: a dwithin query on the simplified tree
        (much cheaper than query_nearest with a max distance), then the exact distances."""
        idx = kt.snap_tree.query(point, predicate="dwithin", distance=self.snap_tolerance_deg)
        if not len(idx):
            return []
        distances = shapely.distance(kt.snap_tree.geometries.take(idx), point)
        best = float(distances.min())
        return [RegionHit(kt.records[i], snapped=True, distance_deg=float(d)) for i, d in zip(idx.tolist(), distances.tolist()) if d == best]

    def _consistent(self, hits: list[RegionHit]) -> list[RegionHit]:
        """Drop snapped sub-regions whose parent is not among the hits (a snap across a border)."""
        codes = {h.region.code for h in hits}
        return [h for h in hits if not h.snapped or h.region.parent_code is None or h.region.parent_code in codes]

    # -- taxa --------------------------------------------------------------------------------
    def statuses_for(self, taxon_key: str, region_code: str) -> list[StatusRecord]:
        return self._status.get((taxon_key, region_code), [])

    def status_region_codes(self, taxon_key: str) -> set[str]:
        return self._status_regions_by_taxon.get(taxon_key, set())

    def known_region_codes(self, taxon_key: str) -> list[str]:
        """The taxon's status regions that exist in the index, sorted (cached: out_of_range cites them)."""
        cache = self.__dict__.setdefault("_known_cache", {})
        if taxon_key not in cache:
            cache[taxon_key] = sorted(r for r in self.status_region_codes(taxon_key) if r in self._region_by_code)
        return cache[taxon_key]

    def native_region_codes(self, taxon_key: str) -> set[str]:
        return self._native_regions_by_taxon.get(taxon_key, set())

    def range_polygons(self, taxon_key: str) -> list[tuple[RangeRecord, object]]:
        return self._ranges_by_taxon.get(taxon_key, [])

    def has_range_data(self, taxon_key: str) -> bool:
        return bool(self._status_regions_by_taxon.get(taxon_key) or self._ranges_by_taxon.get(taxon_key))

    def geofence_at(self, taxon_key: str, region_codes) -> list[GeofenceRecord]:
        return [g for code in region_codes for g in self._geofence.get((taxon_key, code), ())]

    def descendants_with_data(self, taxon_key: str) -> list[str]:
        out, stack = [], list(self._children.get(taxon_key, []))
        while stack:
            key = stack.pop()
            if self.has_range_data(key):
                out.append(key)
            stack.extend(self._children.get(key, []))
        return sorted(out)
