"""Which lists a record belongs to, through an index of the lists (never a scan of every list
per record): region codes -> lists (the record's regions come with its verdict), and an STRtree
of the drawn / uploaded polygons, queried for a whole batch of points at once. Only the lists
these two return are checked against the record's taxon, verdict, source and verification.

Plain Python + shapely over plain values: the services build the index and the records."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import shapely

ALIEN = frozenset({"invasive", "introduced"})
# Ordered: a list asking for "community" takes community-identified and reviewer-confirmed records.
VERIFICATION_RANK = {"rejected": -1, "any": 0, "community": 1, "reviewer": 2}


@dataclass(frozen=True)
class ListCriteria:
    id: int
    region_codes: frozenset[str]
    taxon_ids: frozenset[int]  # the list's taxa and all their descendants; empty: no taxon filter
    rule: str
    sources: frozenset[str]  # empty: every source
    datasets: frozenset[str]  # empty: every occurrence dataset
    minimum_verification: str
    visible_project_ids: frozenset[int]  # camera-trap projects the owner may see


@dataclass(frozen=True)
class MatchRecord:
    """One record as matching sees it: its true point, taxon and verdict there."""

    kind: str  # "observation" | "occurrence"
    pk: int
    source: str  # watchlists.models.Source value
    taxon_id: int | None
    longitude: float
    latitude: float
    region_codes: tuple[str, ...]
    verdict_status: str
    verification: str  # a VERIFICATION_RANK key
    dataset: str = ""
    project_id: int | None = None
    observed_on: object = None


@dataclass
class ListIndex:
    lists: list[ListCriteria]
    polygons: dict[int, object]  # list id -> shapely geometry
    version: tuple = ()
    _by_region: dict[str, list[int]] = field(init=False)
    _tree: shapely.STRtree | None = field(init=False)
    _tree_ids: np.ndarray = field(init=False)
    _by_id: dict[int, ListCriteria] = field(init=False)

    def __post_init__(self):
        self._by_id = {c.id: c for c in self.lists}
        self._by_region = defaultdict(list)
        for c in self.lists:
            for code in c.region_codes:
                self._by_region[code].append(c.id)
        ids = [i for i in self.polygons if i in self._by_id]
        self._tree_ids = np.asarray(ids, dtype=np.int64)
        self._tree = shapely.STRtree([self.polygons[i] for i in ids]) if ids else None
        if self._tree is not None:
            shapely.prepare(self._tree.geometries)

    def __len__(self) -> int:
        return len(self.lists)

    def candidates_many(self, records: list[MatchRecord]) -> list[set[int]]:
        """For each record, the lists whose area holds its point (regions, then polygons in bulk)."""
        out = [set() for _ in records]
        for i, record in enumerate(records):
            for code in record.region_codes:
                found = self._by_region.get(code)
                if found:
                    out[i].update(found)
        if self._tree is not None and records:
            points = shapely.points(
                np.fromiter((r.longitude for r in records), float, len(records)),
                np.fromiter((r.latitude for r in records), float, len(records)),
            )
            record_idx, tree_idx = self._tree.query(points, predicate="intersects")
            for r, t in zip(record_idx.tolist(), self._tree_ids[tree_idx].tolist()):
                out[r].add(t)
        return out

    def lists_for_many(self, records: list[MatchRecord]) -> list[set[int]]:
        return [
            {list_id for list_id in candidates if criteria_hold(self._by_id[list_id], record)}
            for record, candidates in zip(records, self.candidates_many(records))
        ]


def criteria_hold(criteria: ListCriteria, record: MatchRecord) -> bool:
    """Everything but the area: source, dataset, verification, taxa and rule (both when both are set)."""
    if criteria.sources and record.source not in criteria.sources:
        return False
    if record.source == "occurrences" and criteria.datasets and record.dataset not in criteria.datasets:
        return False
    if record.source == "camera_traps" and record.project_id not in criteria.visible_project_ids:
        return False
    if VERIFICATION_RANK.get(record.verification, -1) < VERIFICATION_RANK[criteria.minimum_verification]:
        return False
    if criteria.taxon_ids and record.taxon_id not in criteria.taxon_ids:
        return False
    if criteria.rule == "invasive_here" and record.verdict_status not in ALIEN:
        return False
    if criteria.rule == "out_of_range" and record.verdict_status != "out_of_range":
        return False
    # A list with neither taxa nor a rule would take every record in its area: not a watch list.
    return bool(criteria.taxon_ids or criteria.rule)
