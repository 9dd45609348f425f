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

KINDS_MOST_SPECIFIC_FIRST = ("admin2", "admin1", "country")


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


@dataclass
class _KindTree:
    records: list[RegionRecord]
    geometries: np.ndarray
    tree: STRtree


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

    def __post_init__(self):
        if len(self.regions) != len(self.region_geometries):
            raise ValueError("one geometry per region")
        self._by_kind: dict[str, _KindTree] = {}
        for kind in KINDS_MOST_SPECIFIC_FIRST:
            picked = [(r, g) for r, g in zip(self.regions, self.region_geometries) if r.kind == kind]
            if picked:
                geoms = np.asarray([g for _, g in picked], dtype=object)
                shapely.prepare(geoms)
                self._by_kind[kind] = _KindTree([r for r, _ in picked], geoms, STRtree(geoms))
        self._region_by_code = {r.code: r for r in self.regions}
        self._status = defaultdict(list)
        self._status_regions_by_taxon = defaultdict(set)
        for s in self.statuses:
            self._status[(s.taxon_key, s.region_code)].append(s)
            self._status_regions_by_taxon[s.taxon_key].add(s.region_code)
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
        """Regions containing the point, most specific first; coastal and border points that fall
        in no polygon of a kind snap to the nearest one within the tolerance."""
        point = shapely.Point(lon, lat)
        hits: list[RegionHit] = []
        for kind in KINDS_MOST_SPECIFIC_FIRST:
            kt = self._by_kind.get(kind)
            if kt is None:
                continue
            idx = kt.tree.query(point, predicate="intersects")
            if len(idx):
                hits.extend(RegionHit(kt.records[i]) for i in sorted(idx))
                continue
            near = kt.tree.query_nearest(point, max_distance=self.snap_tolerance_deg, return_distance=True)
            for i, distance in zip(near[0], near[1]):
                hits.append(RegionHit(kt.records[i], snapped=True, distance_deg=float(distance)))
        return self._consistent(hits)

    def _consistent(self, hits: list[RegionHit]) -> list[RegionHit]:
        """Drop snapped sub-regions whose parent is not among the hits (a snap across a border)."""
        codes = {h.region.code for h in hits}
        return [h for h in hits if not h.snapped or h.region.parent_code is None or h.region.parent_code in codes]

    # -- taxa --------------------------------------------------------------------------------
    def statuses_for(self, taxon_key: str, region_code: str) -> list[StatusRecord]:
        return self._status.get((taxon_key, region_code), [])

    def status_region_codes(self, taxon_key: str) -> set[str]:
        return self._status_regions_by_taxon.get(taxon_key, set())

    def range_polygons(self, taxon_key: str) -> list[tuple[RangeRecord, object]]:
        return self._ranges_by_taxon.get(taxon_key, [])

    def has_range_data(self, taxon_key: str) -> bool:
        return bool(self._status_regions_by_taxon.get(taxon_key) or self._ranges_by_taxon.get(taxon_key))

    def descendants_with_data(self, taxon_key: str) -> list[str]:
        out, stack = [], list(self._children.get(taxon_key, []))
        while stack:
            key = stack.pop()
            if self.has_range_data(key):
                out.append(key)
            stack.extend(self._children.get(key, []))
        return sorted(out)
