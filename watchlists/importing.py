"""Importing occurrences from outside (GBIF downloads, iNaturalist exports): each record judged
at its point (verdicts_many), written idempotently on dataset + occurrenceID and matched to the lists."""

from __future__ import annotations

import datetime
import queue
import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from ranges.index_cache import range_index
from ranges.verdict import verdicts_many
from species.models import Taxon
from species.selectors import taxon_names, taxon_tree
from watchlists.matching import RecordBatch, _occurrence_record, list_index, matches_sync, object_array
from watchlists.models import Occurrence, OccurrenceVerdict, Source, verdict_content_sha1
from watchlists.occurrence_files import read_ahead, read_occurrence_chunks

IMPORT_BATCH = 50_000  # rows per chunk: read, judged, written and matched together
REVERDICT_BATCH = 5000


@dataclass
class ImportReport:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: Counter = field(default_factory=Counter)
    unmatched_names: Counter = field(default_factory=Counter)
    matches: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "read": self.read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": dict(self.skipped),
            "unmatched_names": sum(self.unmatched_names.values()),
            "matches": dict(self.matches),
        }


class _TaxonResolver:
    """Names to (taxon id, accepted name), every distinct name looked up once per import."""

    def __init__(self):
        self.names = taxon_names()
        self.cache: dict[str, tuple[int | None, str]] = {}

    def resolve_many(self, names: np.ndarray, report: ImportReport) -> tuple[np.ndarray, np.ndarray]:
        """(taxon ids, accepted names) of the rows' names; unknown names are counted in the report."""
        counts = Counter(names.tolist())
        new = {name: self.names.resolve(name)[0] for name in counts if name not in self.cache}
        accepted = dict(
            Taxon.objects.filter(pk__in={pk for pk in new.values() if pk}).values_list("pk", "scientific_name")
        )
        for name, pk in new.items():
            self.cache[name] = (pk, accepted.get(pk, "") if pk else "")
        for name, count in counts.items():
            if self.cache[name][0] is None:
                report.unmatched_names[name] += count
        pairs = [self.cache[name] for name in names.tolist()]
        return object_array([p[0] for p in pairs]), object_array([p[1] for p in pairs])


class _DatasetsSeen:
    """Whether each dataset held records when this import first met it. Rows of a dataset that
    held none can only meet rows this import wrote itself, which the upsert sorts out: they skip
    the look-up of stored hashes."""

    def __init__(self):
        self.held: dict[str, bool] = {}

    def held_records(self, dataset: str) -> bool:
        if dataset not in self.held:
            self.held[dataset] = Occurrence.objects.filter(dataset=dataset).exists()
        return self.held[dataset]


class _VerdictIds:
    """Each distinct verdict's OccurrenceVerdict id, by its content hash: the ones not stored yet
    are inserted together (one INSERT, a conflict with another import's is ignored) and read back.
    Remembered for the import; a verdict already stored is only read, so a re-run writes nothing."""

    def __init__(self):
        self.ids: dict[str, int] = {}

    def ids_of(self, verdicts: list[tuple]) -> np.ndarray:
        """The ids of verdicts given as (status, region codes, explanation, sources), in their order."""
        shas = [verdict_content_sha1(*v) for v in verdicts]
        wanted = {sha: v for sha, v in zip(shas, verdicts) if sha not in self.ids}
        if wanted:
            self._read(list(wanted))
            missing = [sha for sha in wanted if sha not in self.ids]
            if missing:
                OccurrenceVerdict.objects.bulk_create(
                    [
                        OccurrenceVerdict(
                            status=wanted[sha][0],
                            region_codes=list(wanted[sha][1]),
                            explanation=wanted[sha][2],
                            sources=list(wanted[sha][3]),
                            content_sha1=sha,
                        )
                        for sha in missing
                    ],
                    batch_size=LOOKUP_SLICE // 8,
                    ignore_conflicts=True,
                )
                self._read(missing)
        return np.fromiter((self.ids[sha] for sha in shas), dtype=np.int64, count=len(shas))

    def _read(self, shas: list[str]) -> None:
        for start in range(0, len(shas), LOOKUP_SLICE):
            self.ids.update(
                OccurrenceVerdict.objects.filter(content_sha1__in=shas[start : start + LOOKUP_SLICE]).values_list(
                    "content_sha1", "pk"
                )
            )


def occurrences_import(*, path, dataset: str = "", progress=None, batch_size: int = IMPORT_BATCH) -> ImportReport:
    """Stream the file in chunks of `batch_size` rows, each cleaned column by column
    (occurrence_files.read_occurrence_chunks); a chunk's new and changed rows get their verdicts
    (verdicts_many: one per distinct taxon x region set), are written in one statement (COPY into
    a staging table and an upsert on PostgreSQL, a multi-row insert and the same upsert on SQLite:
    idempotent on dataset + occurrenceID, an unchanged row is not touched) and matched to the lists.
    On PostgreSQL, outside a caller's transaction, a chunk is written and matched on a thread of
    its own while the next one is judged (_WriteBehind)."""
    report, resolver, seen, texts = ImportReport(), _TaxonResolver(), _DatasetsSeen(), _VerdictIds()
    overlap = connection.vendor == "postgresql" and not connection.in_atomic_block
    with _WriteBehind(report, threaded=overlap) as writer:
        for chunk in read_ahead(read_occurrence_chunks(path, chunk_rows=batch_size)):
            report.read += chunk.read
            report.skipped.update(chunk.skipped)
            if len(chunk):
                prepared = _prepare_chunk(chunk.columns, dataset, resolver, seen, texts, report)
                if prepared is not None:
                    writer.submit(prepared)
            if progress is not None:
                progress(chunk.read)
    return report


@dataclass
class _PreparedChunk:
    """A chunk's rows that are new or changed, with their verdicts: what the write needs."""

    rows: dict
    verdicts: list[tuple]
    which: np.ndarray
    fresh: bool


def _prepare_chunk(
    columns: dict, dataset: str, resolver: _TaxonResolver, seen: _DatasetsSeen, texts: _VerdictIds, report
) -> _PreparedChunk | None:
    rows = _keyed(columns, dataset)
    # Every kept record's name, unchanged ones too: unmatched_names counts the same on both engines.
    rows["taxon_id"], rows["accepted_name"] = resolver.resolve_many(rows["scientific_name"], report)
    rows, fresh = _changed_rows(rows, seen, report)
    if not len(rows["dataset"]):
        return None
    verdicts, which = _verdicts_of(rows, rows["accepted_name"])
    rows["verdict_status"] = object_array([v[0] for v in verdicts])[which]
    rows["verdict_id"] = texts.ids_of(verdicts)[which]  # committed before the chunk is written: kept if it fails
    return _PreparedChunk(rows, verdicts, which, fresh)


def _write_chunk(prepared: _PreparedChunk, report: ImportReport) -> None:
    """Write one prepared chunk in its own transaction, then match what it wrote."""
    rows = prepared.rows
    index = list_index()
    with transaction.atomic():
        written = _write(rows, keys=bool(len(index)), fresh=prepared.fresh)
    report.created += written.created
    report.updated += written.updated
    report.unchanged += len(rows["dataset"]) - written.created - written.updated
    if written.keys:  # no list: the chunk is done (a new list takes existing records itself)
        _match_written(rows, prepared.verdicts, prepared.which, written.keys, index, report)


class _WriteBehind:
    """Writes prepared chunks in their order. Threaded: on a thread with its own database
    connection, so the server takes one chunk (COPY, indexes, matching) while this thread judges
    the next; at most one chunk waits. The judging side commits each chunk's new verdict rows
    before handing it over, and chunks are written one after another, so a later row still wins.
    Not threaded (SQLite, which has one writer; or inside a caller's transaction, which another
    connection would not see): each chunk is written when it is handed over. An error of the
    writer is raised in the caller's thread, at the next hand-over or at the end."""

    def __init__(self, report: ImportReport, *, threaded: bool):
        self.report = report
        self.written = ImportReport()  # the writer's counts, added to the report at the end
        self.threaded = threaded
        self.waiting: queue.Queue = queue.Queue(maxsize=1)
        self.failed: BaseException | None = None
        self.thread: threading.Thread | None = None

    def __enter__(self) -> _WriteBehind:
        if self.threaded:
            self.thread = threading.Thread(target=self._run, name="occurrence-writer", daemon=True)
            self.thread.start()
        return self

    def submit(self, prepared: _PreparedChunk) -> None:
        if not self.threaded:
            _write_chunk(prepared, self.written)
            return
        while True:
            self._raise_failure()
            try:
                self.waiting.put(prepared, timeout=0.2)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        try:
            while (prepared := self.waiting.get()) is not _DONE:
                _write_chunk(prepared, self.written)
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
            self.failed = exc
            while self.waiting.get() is not _DONE:  # let the caller hand over and finish
                pass
        finally:
            connection.close()  # this thread's own connection

    def _raise_failure(self) -> None:
        if self.failed is not None:
            raise self.failed

    def __exit__(self, kind, error, trace) -> None:
        if self.thread is not None:
            self.waiting.put(_DONE)
            self.thread.join()
            if error is None:
                self._raise_failure()
        self.report.created += self.written.created
        self.report.updated += self.written.updated
        self.report.unchanged += self.written.unchanged
        self.report.matches.update(self.written.matches)


_DONE = object()


def _take(rows: dict, positions) -> dict:
    return {name: values[positions] for name, values in rows.items()}


def _keyed(columns: dict, dataset: str) -> dict:
    """The chunk with its dataset column; one id twice in a chunk: the later row wins, as it would
    across chunks."""
    keys = columns["dataset_key"]
    names = (
        np.full(len(keys), dataset, dtype=object) if dataset else object_array([k or "unnamed" for k in keys.tolist()])
    )
    rows = {"dataset": names, **columns}
    repeated = pd.DataFrame({"dataset": names, "id": columns["occurrence_id"]}).duplicated(keep="last").to_numpy()
    return _take(rows, ~repeated) if repeated.any() else rows


def _changed_rows(rows: dict, seen: _DatasetsSeen, report: ImportReport) -> tuple[dict, bool]:
    """The rows that are new or differ from what is stored (by their hash); the unchanged ones are
    counted and left out (on SQLite; PostgreSQL's upsert leaves them alone). Only datasets that held
    records before this import are looked up; fresh: none did."""
    codes, names = pd.factorize(rows["dataset"])
    unchanged, fresh = [], True
    for code, name in enumerate(names.tolist()):
        if not seen.held_records(name):
            continue
        fresh = False
        if connection.vendor == "postgresql":
            continue  # the upsert probes the unique index row by row; an IN list of thousands may be planned as a scan
        positions = np.flatnonzero(codes == code).tolist()
        ids = rows["occurrence_id"][positions].tolist()
        stored = {}
        for start in range(0, len(ids), LOOKUP_SLICE):
            stored.update(
                Occurrence.objects.filter(
                    dataset=name, occurrence_id__in=ids[start : start + LOOKUP_SLICE]
                ).values_list("occurrence_id", "row_sha1")
            )
        shas = rows["row_sha1"][positions].tolist()
        unchanged += [p for p, oid, sha in zip(positions, ids, shas) if stored.get(oid) == sha]
    if not unchanged:
        return rows, fresh
    report.unchanged += len(unchanged)
    left = np.ones(len(rows["dataset"]), dtype=bool)
    left[unchanged] = False
    return _take(rows, left), fresh


def _verdicts_of(rows: dict, accepted: np.ndarray) -> tuple[list[tuple], np.ndarray]:
    """The distinct verdicts ((status, region codes, explanation, sources)), and which one each row
    has: verdicts_many at each point for the names the taxonomy knows (it shares one Verdict per
    taxon x region set), "unknown" for the others."""
    judged = np.flatnonzero(np.fromiter((pk is not None for pk in rows["taxon_id"].tolist()), dtype=bool))
    found = verdicts_many(
        accepted[judged].tolist(), rows["longitude"][judged], rows["latitude"][judged], range_index(), taxon_tree()
    )
    verdicts = [("unknown", (), "the name is not in RangeWatch's taxonomy", ())]
    position: dict[int, int] = {}
    picks = []
    for v in found:
        k = position.get(id(v))
        if k is None:
            k = position[id(v)] = len(verdicts)
            verdicts.append((v.status, tuple(v.region_codes), v.explanation, tuple(v.sources)))
        picks.append(k)
    which = np.zeros(len(rows["dataset"]), dtype=np.intp)
    which[judged] = picks
    return verdicts, which


def _row_tuples(rows: dict, imported) -> list[tuple]:
    """The rows as _COLUMNS orders them, values as the driver takes them."""
    columns = dict(rows)
    columns["coordinate_uncertainty_m"] = object_array(
        [None if u != u else u for u in rows["coordinate_uncertainty_m"].tolist()]
    )
    columns["imported"] = np.full(len(rows["dataset"]), imported, dtype=object)
    return list(zip(*(columns[f.attname].tolist() for f in _COLUMNS)))


_COLUMNS = [f for f in Occurrence._meta.concrete_fields if f.name != "id"]
_STAGE = "watchlists_occurrence_stage"
LOOKUP_SLICE = 5000  # ids per look-up of stored hashes (SQLite's bound on parameters)


def _upsert_sql(returning: str) -> str:
    """Staged rows into the table: new ones inserted, changed ones (another hash) updated, the
    rest left alone, which makes a second run of a file write nothing."""
    q = connection.ops.quote_name
    table = q(Occurrence._meta.db_table)
    columns = ", ".join(q(f.column) for f in _COLUMNS)
    updates = ", ".join(
        f"{q(f.column)} = excluded.{q(f.column)}" for f in _COLUMNS if f.name not in ("dataset", "occurrence_id")
    )
    return (
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {_STAGE} WHERE true"
        f" ON CONFLICT ({q('dataset')}, {q('occurrence_id')}) DO UPDATE SET {updates}"
        f" WHERE {table}.{q('row_sha1')} <> excluded.{q('row_sha1')} RETURNING {returning}"
    )


@dataclass
class _Written:
    created: int
    updated: int
    keys: list[tuple] = field(default_factory=list)  # (pk, dataset, occurrence_id) when asked for


def _write(rows: dict, *, keys: bool, fresh: bool) -> _Written:
    """Insert the new rows and update the changed ones; `keys`: say which (for matching)."""
    if connection.vendor == "postgresql":
        days = {d: datetime.date.fromisoformat(d) for d in dict.fromkeys(rows["event_date"].tolist()) if d}
        rows = {**rows, "event_date": object_array([days.get(d) for d in rows["event_date"].tolist()])}
        return _write_postgresql(_row_tuples(rows, timezone.now()), keys=keys, fresh=fresh)
    imported = connection.ops.adapt_datetimefield_value(timezone.now())
    return _write_sqlite(_row_tuples(rows, imported), keys=keys)


def _names() -> tuple[str, str, str]:
    q = connection.ops.quote_name
    return (
        q(Occurrence._meta.db_table),
        ", ".join(q(f.column) for f in _COLUMNS),
        f"{q('dataset')}, {q('occurrence_id')}",
    )


# Binary COPY sends each value in its column's wire format: no number, date or time to parse on the server.
_BINARY_TYPES = {"bigint": "int8", "integer": "int4", "double precision": "float8", "date": "date"}


def _copy(cursor, table: str, columns: str, tuples: list[tuple]) -> None:
    types = [f.db_type(connection) for f in _COLUMNS]
    types = ["timestamptz" if t.startswith("timestamp") else _BINARY_TYPES.get(t, "text") for t in types]
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in tuples:
            copy.write_row(row)


def _write_postgresql(tuples: list[tuple], *, keys: bool, fresh: bool) -> _Written:
    """COPY into a staging table, then the upsert. Rows of datasets that held no records before
    this import go straight into the table with COPY (no list to match them to is waiting for
    their ids); should one of their ids be one this import already wrote, the chunk is staged."""
    from psycopg.errors import UniqueViolation  # here: a process on SQLite alone never loads the driver

    table, columns, key = _names()
    with connection.cursor() as cursor:
        if fresh and not keys:
            try:
                with transaction.atomic():
                    _copy(cursor, table, columns, tuples)
                return _Written(created=len(tuples), updated=0)
            except UniqueViolation:  # raised by the driver itself: COPY does not pass through Django's wrapper
                pass
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} AS SELECT {columns} FROM {table} WITH NO DATA")
        _copy(cursor, _STAGE, columns, tuples)
        if keys:
            cursor.execute(_upsert_sql(f"id, (xmax = 0), {key}"))
            written = cursor.fetchall()
            created = sum(1 for w in written if w[1])
            out = _Written(created, len(written) - created, [(w[0], w[2], w[3]) for w in written])
        else:
            cursor.execute(
                f"WITH w AS ({_upsert_sql('(xmax = 0) AS created')}) SELECT count(*) FILTER (WHERE created), count(*) FROM w"
            )
            created, total = cursor.fetchone()
            out = _Written(created, total - created)
        cursor.execute(f"TRUNCATE {_STAGE}")
    return out


def _write_sqlite(tuples: list[tuple], *, keys: bool) -> _Written:
    """A multi-row insert (executemany) into a staging table, then the upsert. Ids only grow
    (AUTOINCREMENT): a new row's id is past the largest one before."""
    table, columns, key = _names()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} AS SELECT {columns} FROM {table} WHERE 0")
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
        before = cursor.fetchone()[0]
        placeholders = ", ".join(["%s"] * len(_COLUMNS))
        cursor.executemany(f"INSERT INTO {_STAGE} ({columns}) VALUES ({placeholders})", tuples)
        cursor.execute(_upsert_sql(f"id, {key}" if keys else "id"))
        written = cursor.fetchall()
        cursor.execute(f"DELETE FROM {_STAGE}")
    created = sum(1 for w in written if w[0] > before)
    return _Written(created, len(written) - created, written if keys else [])


def _match_written(rows: dict, verdicts: list[tuple], which: np.ndarray, written: list[tuple], index, report) -> None:
    """Match the rows just written, from the chunk's own columns (no read back, no model instances)."""
    position = {key: i for i, key in enumerate(zip(rows["dataset"].tolist(), rows["occurrence_id"].tolist()))}
    at = np.fromiter((position[(name, oid)] for _, name, oid in written), np.int64, len(written))
    kinds = which[at]
    days = rows["event_date"][at]
    n = len(at)
    batch = RecordBatch.from_columns(
        "occurrence",
        {
            "pk": [pk for pk, _, _ in written],
            "source": [Source.OCCURRENCES.value] * n,
            "taxon_id": rows["taxon_id"][at].tolist(),
            "longitude": rows["longitude"][at],
            "latitude": rows["latitude"][at],
            "region_sets": [verdicts[k][1] for k in kinds],
            "verdict": [verdicts[k][0] for k in kinds],
            # Published datasets count as community-level evidence: a reviewer-only list takes none.
            "verification": ["community"] * n,
            "dataset": rows["dataset"][at].tolist(),
            "project_id": [None] * n,
            "observed_on": [datetime.date.fromisoformat(day) if day else None for day in days],
        },
    )
    report.matches.update(matches_sync(batch, index))


def occurrences_reverdict(*, taxon_ids=None, chunk: int = REVERDICT_BATCH) -> dict[str, int]:
    """Judge imported records again (after a register import) and move them in or out of lists."""
    qs = Occurrence.objects.exclude(taxon=None).select_related("taxon", "verdict").order_by("pk")
    if taxon_ids is not None:
        qs = qs.filter(taxon_id__in=list(taxon_ids))
    counts, last, texts = Counter(), 0, _VerdictIds()
    while True:
        batch = list(qs.filter(pk__gt=last)[:chunk])
        if not batch:
            break
        last = batch[-1].pk
        found = verdicts_many(
            [o.taxon.scientific_name for o in batch],
            [o.longitude for o in batch],
            [o.latitude for o in batch],
            range_index(),
            taxon_tree(),
        )
        distinct = {id(v): v for v in found}
        ids = dict(
            zip(
                distinct,
                texts.ids_of(
                    [(v.status, tuple(v.region_codes), v.explanation, tuple(v.sources)) for v in distinct.values()]
                ).tolist(),
            )
        )
        changed = []
        for o, v in zip(batch, found):
            if o.verdict_id != ids[id(v)]:  # any part of the verdict changed, its explanation too
                o.verdict_status = v.status
                o.verdict = OccurrenceVerdict(
                    pk=ids[id(v)],
                    status=v.status,
                    region_codes=list(v.region_codes),
                    explanation=v.explanation,
                    sources=list(v.sources),
                )
                changed.append(o)
        if changed:
            Occurrence.objects.bulk_update(changed, ["verdict_status", "verdict"])
            counts.update(matches_sync([_occurrence_record(o) for o in changed]))
        counts["changed"] += len(changed)
    return dict(counts)
