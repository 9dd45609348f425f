"""Which lists a record belongs to, through an index of the lists (never a scan of every list
per record): region codes -> lists (the record's regions come with its verdict), and an STRtree
of the drawn / uploaded polygons, queried for a whole batch of points at once. Only the lists
these two return are checked against the record's taxon, verdict, source and verification.

The index and the records are plain values (ListIndex, MatchRecord); the functions after them read
the lists and records from the database and write the matches."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
import shapely
from django.db import connection, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from cameratraps.models import Media, Project
from observations.models import Observation, Verification
from observations.selectors import observation_best_taxon
from ranges.index_cache import range_index
from ranges.selectors import taxon_and_descendant_ids
from ranges.verdict import verdicts_many
from species.selectors import taxon_tree
from watchlists.models import Match, Occurrence, Source, TriageStatus, WatchList

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


# -- the index of lists (one per process, rebuilt when any list changes) -----------------------------

_index_lock = threading.Lock()
_index: ListIndex | None = None


def _lists_version() -> tuple:
    agg = WatchList.objects.aggregate(n=Count("id"), last=Max("updated"))
    return (agg["n"], agg["last"], Project.objects.aggregate(last=Max("id"))["last"])


def list_index() -> ListIndex:
    global _index
    version = _lists_version()
    if _index is not None and _index.version == version:
        return _index
    with _index_lock:
        if _index is None or _index.version != version:
            _index = build_list_index(version)
    return _index


def list_index_clear() -> None:
    global _index
    _index = None


def build_list_index(version: tuple = ()) -> ListIndex:
    lists = list(WatchList.objects.prefetch_related("regions", "taxa"))
    descendants: dict[int, list[int]] = {}
    projects: dict[int, frozenset[int]] = {}
    criteria, polygons = [], {}
    for wl in lists:
        taxon_ids = set()
        for taxon in wl.taxa.all():
            if taxon.pk not in descendants:
                descendants[taxon.pk] = taxon_and_descendant_ids(taxon)
            taxon_ids.update(descendants[taxon.pk])
        if wl.owner_id not in projects:
            projects[wl.owner_id] = frozenset(
                Project.objects.filter(Q(owner_id=wl.owner_id) | Q(members=wl.owner_id)).values_list("pk", flat=True)
            )
        criteria.append(
            ListCriteria(
                id=wl.pk,
                region_codes=frozenset(r.code for r in wl.regions.all()),
                taxon_ids=frozenset(taxon_ids),
                rule=wl.rule,
                sources=frozenset(wl.sources or ()),
                datasets=frozenset(wl.datasets or ()),
                minimum_verification=wl.minimum_verification,
                visible_project_ids=projects[wl.owner_id],
            )
        )
        if wl.area:
            polygons[wl.pk] = shapely.from_wkb(bytes(wl.area))
    return ListIndex(criteria, polygons, version=version)


# -- records as matching sees them -----------------------------------------------------------------


def _verification_of(observation: Observation) -> str:
    if observation.verification == Verification.REJECTED:
        return "rejected"
    if observation.verification == Verification.CONFIRMED:
        return "reviewer"
    if observation.community_taxon_id:
        return "community"
    return "any"


def observation_records(observation_ids) -> list[MatchRecord]:
    """Finished uploads and frames, each with its best taxon (reviewer's, community's, model's)
    and the verdict for that taxon at the true point."""
    observations = list(
        Observation.objects.filter(pk__in=list(observation_ids), status=Observation.Status.DONE).select_related(
            "verdict", "prediction", "verified_taxon", "community_taxon"
        )
    )
    projects = dict(
        Media.objects.filter(observation_id__in=[o.pk for o in observations]).values_list(
            "observation_id", "project_id"
        )
    )
    pending, out = [], []
    for observation in observations:
        taxon = observation_best_taxon(observation)
        verdict = getattr(observation, "verdict", None)
        status = verdict.status if verdict else ""
        codes = tuple(verdict.region_codes) if verdict else ()
        if taxon is not None and verdict is not None and verdict.taxon_id != taxon.pk:
            pending.append((len(out), taxon))  # the stored verdict was for another taxon: judge again
        project_id = projects.get(observation.pk)
        out.append(
            MatchRecord(
                kind="observation",
                pk=observation.pk,
                source=Source.CAMERA_TRAPS if project_id else Source.UPLOADS,
                taxon_id=taxon.pk if taxon else None,
                longitude=observation.longitude,
                latitude=observation.latitude,
                region_codes=codes,
                verdict_status=status,
                verification=_verification_of(observation),
                project_id=project_id,
                observed_on=observation.observed_at.date() if observation.observed_at else None,
            )
        )
    if pending:
        found = verdicts_many(
            [t.scientific_name for _, t in pending],
            [out[i].longitude for i, _ in pending],
            [out[i].latitude for i, _ in pending],
            range_index(),
            taxon_tree(),
        )
        for (i, _), v in zip(pending, found):
            r = out[i]
            out[i] = MatchRecord(**{**r.__dict__, "verdict_status": v.status, "region_codes": v.region_codes})
    return out


def _occurrence_record(o: Occurrence) -> MatchRecord:
    return MatchRecord(
        kind="occurrence",
        pk=o.pk,
        source=Source.OCCURRENCES,
        taxon_id=o.taxon_id,
        longitude=o.longitude,
        latitude=o.latitude,
        region_codes=tuple(o.verdict_region_codes or ()),
        verdict_status=o.verdict_status,
        # Published datasets count as community-level evidence: a reviewer-only list takes none.
        verification="community",
        dataset=o.dataset,
        observed_on=o.event_date,
    )


# -- matching ------------------------------------------------------------------------------------


def matches_sync(records: list[MatchRecord], index: ListIndex | None = None) -> dict[str, int]:
    """Make the records' matches what the lists say now: new ones join (status `new`), ones no
    longer wanted leave (a correction, a rejection, a re-verdict), kept ones follow the record."""
    index = index or list_index()
    wanted = index.lists_for_many(records) if len(index) else [set() for _ in records]
    counts = Counter()
    by_kind: dict[str, list[int]] = {"observation": [], "occurrence": []}
    for r in records:
        by_kind[r.kind].append(r.pk)
    existing: dict[tuple[str, int], dict[int, Match]] = {}
    for kind, pks in by_kind.items():
        if not pks:
            continue
        for m in Match.objects.filter(**{f"{kind}_id__in": pks}).only(
            "id", "watch_list_id", "observation_id", "occurrence_id", "taxon_id", "verdict_status"
        ):
            existing.setdefault((kind, getattr(m, f"{kind}_id")), {})[m.watch_list_id] = m
    to_create, to_delete, to_update = [], [], []
    created = connection.ops.adapt_datetimefield_value(timezone.now())
    for record, lists in zip(records, wanted):
        have = existing.get((record.kind, record.pk), {})
        for list_id, m in have.items():
            if list_id not in lists:
                to_delete.append(m.pk)
            elif m.taxon_id != record.taxon_id or m.verdict_status != record.verdict_status:
                m.taxon_id, m.verdict_status = record.taxon_id, record.verdict_status
                to_update.append(m)
        for list_id in lists - have.keys():
            to_create.append(
                (
                    list_id,
                    record.source,
                    record.pk if record.kind == "observation" else None,
                    record.pk if record.kind == "occurrence" else None,
                    record.taxon_id,
                    record.latitude,
                    record.longitude,
                    connection.ops.adapt_datefield_value(record.observed_on),
                    record.verdict_status,
                    TriageStatus.NEW.value,
                    "",
                    created,
                )
            )
    with transaction.atomic():
        if to_delete:
            Match.objects.filter(pk__in=to_delete).delete()
        if to_update:
            Match.objects.bulk_update(to_update, ["taxon_id", "verdict_status"])
        if to_create:
            _insert_matches(to_create)
    counts.update(created=len(to_create), removed=len(to_delete), updated=len(to_update))
    return dict(counts)


_MATCH_COLUMNS = (
    "watch_list_id",
    "source",
    "observation_id",
    "occurrence_id",
    "taxon_id",
    "latitude",
    "longitude",
    "observed_on",
    "verdict_status",
    "status",
    "note",
    "created",
)


def _insert_matches(rows: list[tuple]) -> None:
    """New matches through executemany (as _insert_occurrences: the ORM's per-field preparation
    would be most of the matching time); a match another process made meanwhile is kept."""
    ops = connection.ops
    sql = (
        f"INSERT INTO {ops.quote_name(Match._meta.db_table)} ({', '.join(_MATCH_COLUMNS)})"
        f" VALUES ({', '.join(['%s'] * len(_MATCH_COLUMNS))}) ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 2000):
            cursor.executemany(sql, rows[start : start + 2000])


def observation_matches_sync(*, observation_id: int) -> dict[str, int]:
    records = observation_records([observation_id])
    if not records:  # not finished, or deleted: nothing of it stays in any list
        removed, _ = Match.objects.filter(observation_id=observation_id).delete()
        return {"created": 0, "removed": removed, "updated": 0}
    return matches_sync(records)


def watch_list_match_existing(*, watch_list: WatchList, chunk: int = 20000) -> int:
    """A new list takes the records already here (matched by its own criteria only)."""
    index = build_list_index()
    only = ListIndex([c for c in index.lists if c.id == watch_list.pk], index.polygons)
    created, last = 0, 0
    while True:
        batch = list(Occurrence.objects.filter(pk__gt=last).order_by("pk")[:chunk])
        if not batch:
            break
        last = batch[-1].pk
        created += matches_sync([_occurrence_record(o) for o in batch], only).get("created", 0)
    ids = list(Observation.objects.filter(status=Observation.Status.DONE).values_list("pk", flat=True))
    for start in range(0, len(ids), chunk):
        created += matches_sync(observation_records(ids[start : start + chunk]), only).get("created", 0)
    return created
