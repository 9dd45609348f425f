"""Importing occurrences from outside (GBIF downloads, iNaturalist exports): each record judged
at its point (verdicts_many), written idempotently on dataset + occurrenceID and matched to the lists."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from ranges.index_cache import range_index
from ranges.verdict import verdicts_many
from species.models import Taxon
from species.selectors import taxon_names, taxon_tree
from watchlists.models import Occurrence
from watchlists.occurrence_files import OccurrenceRow, Skipped, read_occurrences
from watchlists.services import _occurrence_record, list_index, matches_sync

IMPORT_BATCH = 5000


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
    """Names to (taxon id, accepted name), every name looked up once per import."""

    def __init__(self):
        self.names = taxon_names()
        self.cache: dict[str, tuple[int | None, str]] = {}
        self.scientific: dict[int, str] = {}

    def resolve(self, name: str) -> tuple[int | None, str]:
        if name not in self.cache:
            pk, _ = self.names.resolve(name)
            if pk is not None and pk not in self.scientific:
                self.scientific[pk] = Taxon.objects.filter(pk=pk).values_list("scientific_name", flat=True).first()
            self.cache[name] = (pk, self.scientific.get(pk, "") if pk else "")
        return self.cache[name]


def occurrences_import(*, path, dataset: str = "", progress=None, batch_size: int = IMPORT_BATCH) -> ImportReport:
    """Stream the file in batches: each batch gets its verdicts (verdicts_many), is written (new
    and changed rows only: idempotent on dataset + occurrenceID) and matched to the lists."""
    report, resolver, batch = ImportReport(), _TaxonResolver(), []
    for row in read_occurrences(path):
        report.read += 1
        if progress is not None:
            progress(1)
        if isinstance(row, Skipped):
            report.skipped[row.reason] += 1
            continue
        batch.append(row)
        if len(batch) >= batch_size:
            _import_batch(batch, dataset, resolver, report)
            batch = []
    if batch:
        _import_batch(batch, dataset, resolver, report)
    return report


def _import_batch(rows: list[OccurrenceRow], dataset: str, resolver: _TaxonResolver, report: ImportReport) -> None:
    changed, existing = _changed_rows(rows, dataset, report)
    if not changed:
        return
    resolved = [resolver.resolve(row.scientific_name) for _, row, _ in changed]
    for (_, row, _), (pk, _) in zip(changed, resolved):
        if pk is None:
            report.unmatched_names[row.scientific_name] += 1
    verdicts = _verdicts_of(changed, resolved)
    now = timezone.now()
    creates, updates = [], []
    for i, ((ds, oid), row, sha) in enumerate(changed):
        status, codes, explanation, sources = verdicts[i]
        values = {
            "dataset": ds,
            "occurrence_id": oid,
            "gbif_id": row.gbif_id,
            "scientific_name": row.scientific_name,
            "taxon_id": resolved[i][0],
            "latitude": row.latitude,
            "longitude": row.longitude,
            "coordinate_uncertainty_m": row.coordinate_uncertainty_m,
            "event_date": row.event_date,
            "license": row.license,
            "rights_holder": row.rights_holder,
            "citation": row.citation,
            "source_url": row.source_url,
            "verdict_status": status,
            "verdict_region_codes": codes,
            "verdict_explanation": explanation,
            "verdict_sources": sources,
            "row_sha1": sha,
            "imported": now,
        }
        if (ds, oid) in existing:
            updates.append(Occurrence(pk=existing[(ds, oid)][0], **values))
        else:
            creates.append(values)
    fields = [f.name for f in Occurrence._meta.concrete_fields if f.name not in ("id", "dataset", "occurrence_id")]
    with transaction.atomic():
        if creates:
            _insert_occurrences(creates)
        if updates:
            Occurrence.objects.bulk_update(updates, fields, batch_size=1000)
    report.created += len(creates)
    report.updated += len(updates)
    _match_written(creates, updates, report)


def _changed_rows(rows: list[OccurrenceRow], dataset: str, report: ImportReport):
    """The batch's rows that are new or differ from what is stored ((dataset, id), row, sha1), and
    the stored ones by (dataset, id) -> (pk, sha1). Unchanged rows are counted and left out."""
    keyed: dict[tuple[str, str], OccurrenceRow] = {}
    for row in rows:  # one id twice in a batch: the later row wins, as it would across batches
        keyed[(dataset or row.dataset_key or "unnamed", row.occurrence_id)] = row
    existing: dict[tuple[str, str], tuple[int, str]] = {}
    for ds in {k[0] for k in keyed}:
        ids = [k[1] for k in keyed if k[0] == ds]
        for pk, oid, sha in Occurrence.objects.filter(dataset=ds, occurrence_id__in=ids).values_list(
            "pk", "occurrence_id", "row_sha1"
        ):
            existing[(ds, oid)] = (pk, sha)
    changed = []
    for key, row in keyed.items():
        sha = row.sha1
        if key in existing and existing[key][1] == sha:
            report.unchanged += 1
            continue
        changed.append((key, row, sha))
    return changed, existing


def _verdicts_of(changed, resolved) -> list[tuple]:
    """(status, region codes, explanation, sources) per changed row: verdicts_many at each point for
    the names the taxonomy knows, "unknown" for the others."""
    judged = [i for i, (pk, _) in enumerate(resolved) if pk is not None]
    found = verdicts_many(
        [resolved[i][1] for i in judged],
        [changed[i][1].longitude for i in judged],
        [changed[i][1].latitude for i in judged],
        range_index(),
        taxon_tree(),
    )
    no_verdict = ("unknown", [], "the name is not in RangeWatch's taxonomy", [])
    out = [no_verdict] * len(changed)
    serialised: dict[int, tuple] = {}  # verdicts_many shares one Verdict per (taxon, region set)
    for i, v in zip(judged, found):
        if id(v) not in serialised:
            serialised[id(v)] = (v.status, list(v.region_codes), v.explanation, list(v.sources))
        out[i] = serialised[id(v)]
    return out


def _match_written(creates: list[dict], updates: list, report: ImportReport) -> None:
    index = list_index()
    if not len(index):
        return  # no list to match: the batch is done (a new list takes existing records itself)
    keys = {(c["dataset"], c["occurrence_id"]) for c in creates} | {(u.dataset, u.occurrence_id) for u in updates}
    written = []
    for ds in {k[0] for k in keys}:
        ids = [k[1] for k in keys if k[0] == ds]
        written += list(Occurrence.objects.filter(dataset=ds, occurrence_id__in=ids).only(*_RECORD_FIELDS))
    report.matches.update(matches_sync([_occurrence_record(o) for o in written], index))


_RECORD_FIELDS = (
    "pk",
    "dataset",
    "taxon_id",
    "longitude",
    "latitude",
    "verdict_region_codes",
    "verdict_status",
    "event_date",
)
_INSERT_COLUMNS = [f for f in Occurrence._meta.concrete_fields if f.name != "id"]


def _insert_occurrences(rows: list[dict]) -> None:
    """One INSERT per 1,000 rows through the driver's executemany: the ORM's bulk_create spends
    about a millisecond per row preparing 19 fields, more than the verdict and the write together.
    JSON values are shared by every row with the same verdict: each is serialised once."""
    ops = connection.ops
    columns = ", ".join(ops.quote_name(f.column) for f in _INSERT_COLUMNS)
    placeholders = ", ".join(["%s"] * len(_INSERT_COLUMNS))
    sql = f"INSERT INTO {ops.quote_name(Occurrence._meta.db_table)} ({columns}) VALUES ({placeholders})"
    json_cache: dict[int, object] = {}
    datetime_cache: dict[object, object] = {}

    def as_json(value, encoder):
        key = id(value)
        if key not in json_cache:
            json_cache[key] = (ops.adapt_json_value(value, encoder), value)  # keep value alive: ids stay unique
        return json_cache[key][0]

    def as_datetime(value):
        if value not in datetime_cache:
            datetime_cache[value] = ops.adapt_datetimefield_value(value)
        return datetime_cache[value]

    adapters = []
    for f in _INSERT_COLUMNS:
        kind = f.get_internal_type()
        if kind == "JSONField":
            adapters.append(lambda v, e=f.encoder: as_json(v, e))
        elif kind == "DateField":
            adapters.append(ops.adapt_datefield_value)
        elif kind == "DateTimeField":
            adapters.append(as_datetime)
        else:
            adapters.append(None)
    names = [f.attname for f in _INSERT_COLUMNS]
    params = [tuple(a(row[n]) if a else row[n] for n, a in zip(names, adapters)) for row in rows]
    with connection.cursor() as cursor:
        for start in range(0, len(params), 1000):
            cursor.executemany(sql, params[start : start + 1000])


def occurrences_reverdict(*, taxon_ids=None, chunk: int = IMPORT_BATCH) -> dict[str, int]:
    """Judge imported records again (after a register import) and move them in or out of lists."""
    qs = Occurrence.objects.exclude(taxon=None).select_related("taxon").order_by("pk")
    if taxon_ids is not None:
        qs = qs.filter(taxon_id__in=list(taxon_ids))
    counts, last = Counter(), 0
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
        changed = []
        for o, v in zip(batch, found):
            if o.verdict_status != v.status or list(o.verdict_region_codes) != list(v.region_codes):
                o.verdict_status, o.verdict_region_codes = v.status, list(v.region_codes)
                o.verdict_explanation, o.verdict_sources = v.explanation, list(v.sources)
                changed.append(o)
        if changed:
            Occurrence.objects.bulk_update(
                changed, ["verdict_status", "verdict_region_codes", "verdict_explanation", "verdict_sources"]
            )
            counts.update(matches_sync([_occurrence_record(o) for o in changed]))
        counts["changed"] += len(changed)
    return dict(counts)
