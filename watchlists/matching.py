"""Which lists a record belongs to, through an index of the lists (never a scan of every list
per record): region codes -> lists (the record's regions come with its verdict), and an STRtree
of the drawn / uploaded polygons, queried for a whole chunk of points at once. The candidate
(record, list) pairs are then checked against the lists' taxa, rule, source and verification as
numpy arrays, a chunk of records at a time: no Python loop per record or per pair.

The index and the records are plain values (ListIndex, RecordBatch, MatchRecord); the functions
after them read the lists and records from the database and write the matches (set-based:
one statement per chunk, COPY-like `unnest` arrays on PostgreSQL, executemany on SQLite)."""

from __future__ import annotations

import datetime
import json
import threading
from collections import Counter
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
from watchlists.models import Match, Occurrence, OccurrenceVerdict, Source, TriageStatus, WatchList

ALIEN = frozenset({"invasive", "introduced"})
# Ordered: a list asking for "community" takes community-identified and reviewer-confirmed records.
VERIFICATION_RANK = {"rejected": -1, "any": 0, "community": 1, "reviewer": 2}
SOURCES = (Source.UPLOADS.value, Source.CAMERA_TRAPS.value, Source.OCCURRENCES.value)  # a record's source code
_SOURCE_CODE = {s: i for i, s in enumerate(SOURCES)}
_RULE_CODE = {"": 0, "invasive_here": 1, "out_of_range": 2}


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


def _interned(values, table: dict) -> np.ndarray:
    """Each value's index in `table` (extended with the values not in it yet)."""
    return np.fromiter((table.setdefault(v, len(table)) for v in values), np.int64, len(values))


@dataclass
class RecordBatch:
    """A chunk of records of one kind as columns: what the index matches in bulk. Repeated
    strings (region sets, verdicts, datasets) are small integer codes into the tables beside them."""

    kind: str  # "observation" | "occurrence"
    pk: np.ndarray  # int64
    source: np.ndarray  # int64 index into SOURCES
    taxon_id: np.ndarray  # int64, -1: none
    longitude: np.ndarray
    latitude: np.ndarray
    regions: np.ndarray  # index into region_sets
    region_sets: list[tuple[str, ...]]
    verdict: np.ndarray  # index into verdicts
    verdicts: list[str]
    verification: np.ndarray  # VERIFICATION_RANK values
    dataset: np.ndarray  # index into datasets
    datasets: list[str]
    project_id: np.ndarray  # int64, -1: none
    observed_on: list  # dates (or None), as the matches store them

    def __len__(self) -> int:
        return len(self.pk)

    @classmethod
    def from_columns(cls, kind: str, columns: dict) -> RecordBatch:
        """`columns`: pk, source (names), taxon_id, longitude, latitude, region_sets (tuples or
        JSON text), verdict, verification (names), dataset, project_id, observed_on: sequences."""
        n = len(columns["pk"])
        tables = {"regions": {}, "verdicts": {}, "datasets": {}}
        regions = _interned(columns["region_sets"], tables["regions"])
        region_sets = [json.loads(k) if isinstance(k, str) else tuple(k) for k in tables["regions"]]
        return cls(
            kind=kind,
            pk=np.asarray(columns["pk"], dtype=np.int64),
            source=np.fromiter((_SOURCE_CODE[s] for s in columns["source"]), np.int64, n),
            taxon_id=np.fromiter((-1 if t is None else t for t in columns["taxon_id"]), np.int64, n),
            longitude=np.asarray(columns["longitude"], dtype=np.float64),
            latitude=np.asarray(columns["latitude"], dtype=np.float64),
            regions=regions,
            region_sets=[tuple(r or ()) for r in region_sets],
            verdict=_interned(columns["verdict"], tables["verdicts"]),
            verdicts=list(tables["verdicts"]),
            verification=np.fromiter((VERIFICATION_RANK.get(v, -1) for v in columns["verification"]), np.int64, n),
            dataset=_interned(columns["dataset"], tables["datasets"]),
            datasets=list(tables["datasets"]),
            project_id=np.fromiter((-1 if p is None else p for p in columns["project_id"]), np.int64, n),
            observed_on=list(columns["observed_on"]),
        )

    @classmethod
    def from_records(cls, records: list[MatchRecord]) -> RecordBatch:
        """Records of one kind (MatchRecord: uploads, frames, a few occurrences)."""
        names = ("pk", "source", "taxon_id", "longitude", "latitude", "region_codes", "verdict_status")
        columns = {n: [getattr(r, n) for r in records] for n in names}
        columns["region_sets"] = [tuple(c) for c in columns.pop("region_codes")]
        columns["verdict"] = columns.pop("verdict_status")
        for n in ("verification", "dataset", "project_id", "observed_on"):
            columns[n] = [getattr(r, n) for r in records]
        return cls.from_columns(records[0].kind if records else "occurrence", columns)

    def take(self, rows: np.ndarray, name: str) -> list:
        """A column's values at `rows` as Python values (codes turned back into strings)."""
        if name == "source":
            return [SOURCES[i] for i in self.source[rows].tolist()]
        if name == "verdict":
            return [self.verdicts[i] for i in self.verdict[rows].tolist()]
        if name == "observed_on":
            return [self.observed_on[i] for i in rows.tolist()]
        if name == "taxon_id":
            return [None if t < 0 else t for t in self.taxon_id[rows].tolist()]
        return getattr(self, name)[rows].tolist()


def _member(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """keys in sorted_keys, as a boolean array (binary search: the sorted side is the index's)."""
    if not len(sorted_keys) or not len(keys):
        return np.zeros(len(keys), dtype=bool)
    at = np.searchsorted(sorted_keys, keys).clip(0, len(sorted_keys) - 1)
    return sorted_keys[at] == keys


@dataclass
class ListIndex:
    lists: list[ListCriteria]
    polygons: dict[int, object]  # list id -> shapely geometry
    version: tuple = ()
    ids: np.ndarray = field(init=False)  # a list's position -> its id

    def __post_init__(self):
        self._by_id = {c.id: c for c in self.lists}
        self.ids = np.asarray([c.id for c in self.lists], dtype=np.int64)
        position = {c.id: i for i, c in enumerate(self.lists)}
        by_region: dict[str, list[int]] = {}
        for i, c in enumerate(self.lists):
            for code in c.region_codes:
                by_region.setdefault(code, []).append(i)
        self._by_region = {k: np.asarray(v, dtype=np.int64) for k, v in by_region.items()}
        tree_ids = [i for i in self.polygons if i in position]
        self._tree_pos = np.asarray([position[i] for i in tree_ids], dtype=np.int64)
        self._tree = shapely.STRtree([self.polygons[i] for i in tree_ids]) if tree_ids else None
        if self._tree is not None:
            shapely.prepare(self._tree.geometries)
        self._columns()

    def _columns(self) -> None:
        """The criteria as arrays by list position; set memberships as sorted position * K + value keys."""
        lists = self.lists
        self._sources = np.asarray([sum(1 << _SOURCE_CODE[s] for s in c.sources) for c in lists], dtype=np.int64)
        self._rank = np.asarray([VERIFICATION_RANK[c.minimum_verification] for c in lists], dtype=np.int64)
        self._rule = np.asarray([_RULE_CODE.get(c.rule, 3) for c in lists], dtype=np.int64)
        self._has_taxa = np.asarray([bool(c.taxon_ids) for c in lists], dtype=bool)
        self._has_datasets = np.asarray([bool(c.datasets) for c in lists], dtype=bool)
        self._taxon_k = 2 + max((max(c.taxon_ids) for c in lists if c.taxon_ids), default=0)
        self._taxon_keys = np.sort(
            np.fromiter((i * self._taxon_k + t for i, c in enumerate(lists) for t in c.taxon_ids), np.int64)
        )
        self._project_k = 2 + max((max(c.visible_project_ids) for c in lists if c.visible_project_ids), default=0)
        self._project_keys = np.sort(
            np.fromiter((i * self._project_k + p for i, c in enumerate(lists) for p in c.visible_project_ids), np.int64)
        )

    def __len__(self) -> int:
        return len(self.lists)

    def candidate_pairs(self, batch: RecordBatch) -> tuple[np.ndarray, np.ndarray]:
        """(record row, list position) for every list whose area holds the record's point: the
        lists of its region codes, and the polygons the tree finds for the whole chunk."""
        per_set = [
            np.unique(np.concatenate([self._by_region.get(c, _NONE) for c in codes])) if codes else _NONE
            for codes in batch.region_sets
        ]
        lengths = np.asarray([len(p) for p in per_set], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(per_set) else _NONE
        flat = np.concatenate(per_set) if per_set else _NONE
        counts = lengths[batch.regions] if len(per_set) else np.zeros(len(batch), dtype=np.int64)
        rows = np.repeat(np.arange(len(batch), dtype=np.int64), counts)
        within = np.arange(len(rows), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        lists = flat[np.repeat(starts[batch.regions], counts) + within] if len(rows) else _NONE
        if self._tree is not None and len(batch):
            found_rows, found = self._tree.query(
                shapely.points(batch.longitude, batch.latitude), predicate="intersects"
            )
            rows = np.concatenate([rows, found_rows.astype(np.int64)])
            lists = np.concatenate([lists, self._tree_pos[found]])
        keys = np.unique(rows * max(1, len(self.lists)) + lists)  # a list by region and by polygon: once
        return keys // max(1, len(self.lists)), keys % max(1, len(self.lists))

    def wanted_pairs(self, batch: RecordBatch) -> tuple[np.ndarray, np.ndarray]:
        """The candidate pairs whose list takes the record (criteria_hold, on whole arrays)."""
        rows, pos = self.candidate_pairs(batch)
        source = batch.source[rows]
        ok = (self._sources[pos] == 0) | ((self._sources[pos] >> source) & 1).astype(bool)
        ok &= batch.verification[rows] >= self._rank[pos]
        rule = self._rule[pos]
        verdict_alien = np.asarray([v in ALIEN for v in batch.verdicts], dtype=bool)
        verdict_out = np.asarray([v == "out_of_range" for v in batch.verdicts], dtype=bool)
        if len(batch.verdicts):
            ok &= (rule != 1) | verdict_alien[batch.verdict[rows]]
            ok &= (rule != 2) | verdict_out[batch.verdict[rows]]
        ok &= self._has_taxa[pos] | (rule != 0)  # neither taxa nor a rule: not a watch list
        check = ok & self._has_taxa[pos]
        ok[check] = _member(pos[check] * self._taxon_k + batch.taxon_id[rows[check]], self._taxon_keys)
        check = ok & (source == _SOURCE_CODE[Source.CAMERA_TRAPS])
        ok[check] = _member(pos[check] * self._project_k + batch.project_id[rows[check]], self._project_keys)
        check = np.flatnonzero(ok & (source == _SOURCE_CODE[Source.OCCURRENCES]) & self._has_datasets[pos])
        for i in check.tolist():  # lists limited to datasets are few: their pairs one by one
            ok[i] = batch.datasets[batch.dataset[rows[i]]] in self.lists[pos[i]].datasets
        return rows[ok], pos[ok]

    def candidates_many(self, records: list[MatchRecord]) -> list[set[int]]:
        """For each record, the ids of the lists whose area holds its point."""
        return self._as_sets(records, self.candidate_pairs)

    def lists_for_many(self, records: list[MatchRecord]) -> list[set[int]]:
        """For each record, the ids of the lists that take it."""
        return self._as_sets(records, self.wanted_pairs)

    def _as_sets(self, records, pairs) -> list[set[int]]:
        out = [set() for _ in records]
        if records and self.lists:
            rows, pos = pairs(RecordBatch.from_records(records))
            for r, list_id in zip(rows.tolist(), self.ids[pos].tolist()):
                out[r].add(list_id)
        return out


_NONE = np.zeros(0, dtype=np.int64)


def criteria_hold(criteria: ListCriteria, record: MatchRecord) -> bool:
    """Everything but the area, for one record and one list: the rules ListIndex.wanted_pairs
    applies to whole arrays (source, dataset, verification, taxa and rule, both when both are set)."""
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
        region_codes=tuple(o.verdict.region_codes) if o.verdict_id else (),  # select_related("verdict")
        verdict_status=o.verdict_status,
        # Published datasets count as community-level evidence: a reviewer-only list takes none.
        verification="community",
        dataset=o.dataset,
        observed_on=o.event_date,
    )


# -- imported records read as columns -------------------------------------------------------------

MATCH_CHUNK = 20000


def _occurrence_select() -> str:
    """The records' columns, `o.` for the record; the region codes come from the shared verdict row."""
    regions = "v.region_codes::text" if connection.vendor == "postgresql" else "v.region_codes"
    quote = connection.ops.quote_name
    return (
        f"SELECT o.id, o.taxon_id, o.longitude, o.latitude, {regions}, o.verdict_status, o.dataset, o.event_date"
        f" FROM {quote(Occurrence._meta.db_table)} o"
        f" LEFT JOIN {quote(OccurrenceVerdict._meta.db_table)} v ON v.id = o.verdict_id"
    )


def occurrence_batches(*, dataset: str | None = None, chunk: int = MATCH_CHUNK):
    """Imported records in id order, `chunk` at a time, as RecordBatch: one plain SELECT per chunk
    (no model instances; the region codes' JSON is parsed once per distinct set, not per row).
    All of them, or one dataset's."""
    sql = _occurrence_select() + " WHERE o.id > %s"
    params = [dataset] if dataset is not None else []
    sql += (" AND o.dataset = %s" if dataset is not None else "") + " ORDER BY o.id LIMIT %s"
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, [last, *params, chunk])
            rows = cursor.fetchall()
        if not rows:
            return
        last = rows[-1][0]
        yield _occurrence_batch(rows)


def _occurrence_batch(rows: list[tuple]) -> RecordBatch:
    pk, taxon, lon, lat, regions, verdict, dataset, date = zip(*rows) if rows else ((),) * 8
    n = len(pk)
    return RecordBatch.from_columns(
        "occurrence",
        {
            "pk": pk,
            "source": [Source.OCCURRENCES.value] * n,
            "taxon_id": taxon,
            "longitude": lon,
            "latitude": lat,
            "region_sets": [r if isinstance(r, str) else json.dumps(r or []) for r in regions],  # no verdict: none
            "verdict": verdict,
            # Published datasets count as community-level evidence: a reviewer-only list takes none.
            "verification": ["community"] * n,
            "dataset": dataset,
            "project_id": [None] * n,
            "observed_on": date,
        },
    )


def occurrences_match_keys(keys, index: ListIndex | None = None) -> dict[str, int]:
    """Match the imported records named by (dataset, occurrenceID) pairs: what an import calls for
    the rows it has just written (read back as columns, not as model instances)."""
    index = index or list_index()
    by_dataset: dict[str, list[str]] = {}
    for dataset, occurrence_id in keys:
        by_dataset.setdefault(dataset, []).append(occurrence_id)
    rows = []
    with connection.cursor() as cursor:
        for dataset, ids in by_dataset.items():
            for start in range(0, len(ids), 900):  # SQLite's bound on parameters per statement
                part = ids[start : start + 900]
                cursor.execute(
                    _occurrence_select()
                    + f" WHERE o.dataset = %s AND o.occurrence_id IN ({', '.join(['%s'] * len(part))})",
                    [dataset, *part],
                )
                rows += cursor.fetchall()
    if not rows or not len(index):
        return {"created": 0, "removed": 0, "updated": 0}
    return matches_sync(_occurrence_batch(rows), index)


def occurrences_match(*, index: ListIndex | None = None, dataset: str | None = None, chunk: int = MATCH_CHUNK):
    """Match every imported record (or one dataset's) against the lists, a chunk at a time."""
    index = index or list_index()
    counts = Counter()
    for batch in occurrence_batches(dataset=dataset, chunk=chunk):
        counts.update(matches_sync(batch, index))
    return dict(counts)


# -- matching ------------------------------------------------------------------------------------


def matches_sync(records, index: ListIndex | None = None) -> dict[str, int]:
    """Make the records' matches what the lists say now: new ones join (status `new`), ones no
    longer wanted leave (a correction, a rejection, a re-verdict), kept ones follow the record.
    `records`: a RecordBatch, or MatchRecords (of either kind). Only the index's lists are
    touched: a one-list index (a new list taking existing records) leaves the others' matches."""
    index = index or list_index()
    if isinstance(records, RecordBatch):
        batches = [records]
    else:
        batches = [
            RecordBatch.from_records([r for r in records if r.kind == kind])
            for kind in ("observation", "occurrence")
            if any(r.kind == kind for r in records)
        ]
    counts = Counter(created=0, removed=0, updated=0)
    for batch in batches:
        if len(batch):
            counts.update(_sync_batch(batch, index))
    return dict(counts)


def _sync_batch(batch: RecordBatch, index: ListIndex) -> dict[str, int]:
    rows, pos = index.wanted_pairs(batch) if len(index) else (_NONE, _NONE)
    have = _existing_matches(batch, index)  # match id, list id, record pk, taxon id, verdict, latitude, longitude, day
    factor = int(max(index.ids.max(initial=0), have[1].max(initial=0))) + 1
    wanted_keys = batch.pk[rows] * factor + index.ids[pos]
    have_keys = have[2] * factor + have[1]
    kept = np.isin(have_keys, wanted_keys)
    to_delete = have[0][~kept].tolist()
    # Kept matches follow their record: its taxon, verdict, point (a corrected location) and day.
    order = np.argsort(batch.pk, kind="stable")
    at = order[np.searchsorted(batch.pk, have[2][kept], sorter=order)]
    taxa = batch.taxon_id[at]
    verdicts = np.asarray(batch.verdicts + [""], dtype=object)[batch.verdict[at]]
    latitudes, longitudes = batch.latitude[at], batch.longitude[at]
    days = object_array([batch.observed_on[i] for i in at.tolist()])
    stale = (
        (taxa != have[3][kept])
        | (verdicts != have[4][kept])
        | (latitudes != have[5][kept])
        | (longitudes != have[6][kept])
        | (days != have[7][kept])
    )
    to_update = list(
        zip(
            [None if t < 0 else t for t in taxa[stale].tolist()],
            verdicts[stale].tolist(),
            latitudes[stale].tolist(),
            longitudes[stale].tolist(),
            days[stale].tolist(),
            have[0][kept][stale].tolist(),
        )
    )
    new = ~np.isin(wanted_keys, have_keys)
    with transaction.atomic():
        if to_delete:
            Match.objects.filter(pk__in=to_delete).delete()
        if to_update:
            _update_matches(to_update)
        created = _insert_matches(batch, rows[new], index.ids[pos[new]]) if new.any() else 0
    return {"created": created, "removed": len(to_delete), "updated": len(to_update)}


def _update_matches(rows: list[tuple]) -> None:
    """(taxon id, verdict, latitude, longitude, day, match id): one UPDATE from arrays on
    PostgreSQL (one statement, so the cell trigger runs once), executemany on SQLite."""
    table = connection.ops.quote_name(Match._meta.db_table)
    sets = "taxon_id = %s, verdict_status = %s, latitude = %s, longitude = %s, observed_on = %s"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} AS m SET taxon_id = u.taxon_id, verdict_status = u.verdict,"
                " latitude = u.latitude, longitude = u.longitude, observed_on = u.day"
                " FROM unnest(%s::bigint[], %s::text[], %s::float8[], %s::float8[], %s::date[], %s::bigint[])"
                " AS u(taxon_id, verdict, latitude, longitude, day, id) WHERE m.id = u.id",
                [list(c) for c in zip(*rows)],
            )
        else:
            days = connection.ops.adapt_datefield_value
            cursor.executemany(f"UPDATE {table} SET {sets} WHERE id = %s", [(*r[:4], days(r[4]), r[5]) for r in rows])


def _existing_matches(batch: RecordBatch, index: ListIndex) -> tuple[np.ndarray, ...]:
    """The batch's records' matches in the index's lists, as columns: match id, list id, record
    pk, taxon id (-1: none), verdict, latitude, longitude and day (object arrays for the last)."""
    column = f"{batch.kind}_id"
    table = connection.ops.quote_name(Match._meta.db_table)
    select = (
        f"SELECT id, watch_list_id, {column}, taxon_id, verdict_status, latitude, longitude, observed_on FROM {table}"
    )
    pks = batch.pk.tolist()
    found = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"{select} WHERE {column} = ANY(%s)", [pks])
            found = cursor.fetchall()
        else:
            for start in range(0, len(pks), 900):
                part = pks[start : start + 900]
                cursor.execute(f"{select} WHERE {column} IN ({', '.join(['%s'] * len(part))})", part)
                found += cursor.fetchall()
    in_index = set(index.ids.tolist())
    found = [f for f in found if f[1] in in_index]
    ids, lists, records, taxa, verdicts, latitudes, longitudes, days = zip(*found) if found else ((),) * 8
    if connection.vendor != "postgresql":  # SQLite gives dates as text
        days = [datetime.date.fromisoformat(d) if isinstance(d, str) else d for d in days]
    return (
        np.asarray(ids, dtype=np.int64),
        np.asarray(lists, dtype=np.int64),
        np.asarray(records, dtype=np.int64),
        np.fromiter((-1 if t is None else t for t in taxa), np.int64, len(taxa)),
        object_array(verdicts),
        np.asarray(latitudes, dtype=np.float64),
        np.asarray(longitudes, dtype=np.float64),
        object_array(days),
    )


def object_array(values) -> np.ndarray:
    """`values` as a 1-d numpy array of Python objects (tuples stay whole)."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


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
_UNNEST_TYPES = ("bigint", "text", "bigint", "bigint", "bigint", "float8", "float8", "date", "text")


def _insert_matches(batch: RecordBatch, rows: np.ndarray, list_ids: np.ndarray) -> int:
    """New matches (status `new`), one statement per chunk on PostgreSQL (INSERT ... SELECT FROM
    unnest of column arrays), executemany on SQLite; a match another process made meanwhile is kept."""
    ops = connection.ops
    n = len(rows)
    record = batch.pk[rows].tolist()
    columns = [
        list_ids.tolist(),
        batch.take(rows, "source"),
        record if batch.kind == "observation" else [None] * n,
        record if batch.kind == "occurrence" else [None] * n,
        batch.take(rows, "taxon_id"),
        batch.take(rows, "latitude"),
        batch.take(rows, "longitude"),
        batch.take(rows, "observed_on"),
        batch.take(rows, "verdict"),
    ]
    table = ops.quote_name(Match._meta.db_table)
    created = ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{t}[]" for t in _UNNEST_TYPES)
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(_MATCH_COLUMNS)})"
                f" SELECT *, %s, '', %s FROM unnest({arrays}) ON CONFLICT DO NOTHING",
                [TriageStatus.NEW.value, created, *columns],  # in the statement's order
            )
            return cursor.rowcount
        columns[7] = [ops.adapt_datefield_value(d) for d in columns[7]]
        sql = (
            f"INSERT INTO {table} ({', '.join(_MATCH_COLUMNS)})"
            f" VALUES ({', '.join(['%s'] * len(_MATCH_COLUMNS))}) ON CONFLICT DO NOTHING"
        )
        params = [(*values, TriageStatus.NEW.value, "", created) for values in zip(*columns)]
        for start in range(0, n, 5000):
            cursor.executemany(sql, params[start : start + 5000])
    return n


def observation_matches_sync(*, observation_id: int) -> dict[str, int]:
    records = observation_records([observation_id])
    if not records:  # not finished, or deleted: nothing of it stays in any list
        removed, _ = Match.objects.filter(observation_id=observation_id).delete()
        return {"created": 0, "removed": removed, "updated": 0}
    return matches_sync(records)


def watch_list_match_existing(*, watch_list: WatchList, chunk: int = MATCH_CHUNK) -> int:
    """A new list takes the records already here (matched by its own criteria only)."""
    index = build_list_index()
    only = ListIndex([c for c in index.lists if c.id == watch_list.pk], index.polygons)
    created = occurrences_match(index=only, chunk=chunk).get("created", 0)
    ids = list(Observation.objects.filter(status=Observation.Status.DONE).values_list("pk", flat=True))
    for start in range(0, len(ids), chunk):
        records = observation_records(ids[start : start + chunk])
        if records:
            created += matches_sync(records, only).get("created", 0)
    return created
