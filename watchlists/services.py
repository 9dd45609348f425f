"""Writes of the watch lists: creating a list, importing occurrences (with their verdicts), triage
and seen marks. Matching records to lists is watchlists.matching."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import shapely
from django.db import connection, transaction
from django.utils import timezone

from core.errors import ServiceError
from ranges.geojson import DISPLAY_TOLERANCE_DEG
from ranges.geometry import GeometryRejected, clean_polygonal
from ranges.geometry_files import GeometryFileError, geometry_from_upload
from ranges.index_cache import range_index
from ranges.models import Region
from ranges.verdict import verdicts_many
from species.models import Taxon
from species.selectors import taxon_by_key_or_id, taxon_names, taxon_tree
from watchlists.matching import _occurrence_record, list_index, matches_sync, watch_list_match_existing
from watchlists.models import (
    Match,
    MatchSeen,
    MatchStatusChange,
    MinimumVerification,
    Occurrence,
    Rule,
    Source,
    Subscription,
    TriageStatus,
    WatchList,
)
from watchlists.occurrence_files import OccurrenceRow, Skipped, read_occurrences

IMPORT_BATCH = 5000


class WatchListRejected(ServiceError):
    """A list definition that cannot be used (400); `field` names the input at fault."""

    code = "invalid_watch_list"

    def __init__(self, message: str, field: str):
        super().__init__(message, fields={field: [message]})
        self.field = field


# -- lists ---------------------------------------------------------------------------------------


def area_from_geojson(geometry: dict) -> tuple[object, str]:
    """A drawn or uploaded GeoJSON geometry (or Feature / FeatureCollection), validated and repaired."""
    if not isinstance(geometry, dict):
        raise WatchListRejected("geometry: a GeoJSON object", "geometry")
    try:
        if geometry.get("type") == "FeatureCollection":
            geom = shapely.union_all(
                [shapely.geometry.shape(f["geometry"]) for f in geometry.get("features", []) if f.get("geometry")]
            )
        elif geometry.get("type") == "Feature":
            geom = shapely.geometry.shape(geometry["geometry"])
        else:
            geom = shapely.geometry.shape(geometry)
    except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.GEOSException) as exc:
        raise WatchListRejected(f"geometry: not a GeoJSON geometry ({exc})", "geometry") from exc
    try:
        clean = clean_polygonal(geom, label="geometry")
    except GeometryRejected as exc:
        raise WatchListRejected(str(exc), "geometry") from exc
    return clean.geometry, clean.message


def area_from_file(uploaded) -> dict:
    """An uploaded GeoJSON, zipped shapefile or GeoPackage (ranges.geometry_files), as GeoJSON."""
    try:
        geom = geometry_from_upload(uploaded)
    except GeometryFileError as exc:
        raise WatchListRejected(str(exc), "area_file") from exc
    return shapely.geometry.mapping(geom)


def _taxa_from(values) -> list[Taxon]:
    found, missing = [], []
    for value in values:
        taxon = taxon_by_key_or_id(str(value))
        (found if taxon else missing).append(taxon or value)
    if missing:
        raise WatchListRejected(f"taxa: unknown {', '.join(map(str, missing))}", "taxa")
    return found


@transaction.atomic
def watch_list_create(
    *,
    owner,
    name: str,
    regions: list[str] = (),
    geometry: dict | None = None,
    taxa: list = (),
    rule: str = "",
    sources: list[str] = (),
    datasets: list[str] = (),
    minimum_verification: str = MinimumVerification.ANY,
    frequency: str = "daily",
    members=(),
    match_existing: bool = True,
) -> WatchList:
    """A list and its owner's digest subscription. `match_existing`: the records already here are
    matched after commit, in this process (the API passes False and queues watchlists.match_existing:
    at millions of records that is a job, not part of a request)."""
    region_rows = list(Region.objects.filter(code__in=list(regions)))
    unknown = sorted(set(regions) - {r.code for r in region_rows})
    if unknown:
        raise WatchListRejected(f"regions: unknown code(s) {', '.join(unknown)}", "regions")
    if not region_rows and not geometry:
        raise WatchListRejected("give an area: region codes and/or a GeoJSON geometry", "regions")
    taxon_rows = _taxa_from(taxa)
    if rule not in Rule.values:
        raise WatchListRejected(f"rule: one of {[r for r in Rule.values if r]}", "rule")
    if not taxon_rows and not rule:
        raise WatchListRejected("give taxa and/or a rule (invasive_here, out_of_range)", "taxa")
    bad_sources = set(sources) - set(Source.values)
    if bad_sources:
        raise WatchListRejected(f"sources: one of {Source.values}", "sources")
    watch_list = WatchList(
        owner=owner,
        name=name,
        rule=rule,
        sources=list(sources),
        datasets=list(datasets),
        minimum_verification=minimum_verification,
        frequency=frequency,
    )
    if geometry:
        area, note = area_from_geojson(geometry)
        watch_list.area = shapely.to_wkb(area, output_dimension=2)
        watch_list.area_note = note[:500]
        watch_list.area_display = shapely.geometry.mapping(area.simplify(DISPLAY_TOLERANCE_DEG))
    watch_list.save()
    watch_list.regions.set(region_rows)
    watch_list.taxa.set(taxon_rows)
    watch_list.members.set(list(members))
    Subscription.objects.create(watch_list=watch_list, user=owner)
    if match_existing:
        transaction.on_commit(lambda: watch_list_match_existing(watch_list=watch_list))
    return watch_list


# -- importing occurrences -------------------------------------------------------------------------


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


# -- triage ----------------------------------------------------------------------------------------


class TriageRejected(ServiceError):
    code = "invalid_status"


@transaction.atomic
def match_triage(*, match: Match, user, status: str | None = None, note: str | None = None) -> Match:
    """A manager's status and note, with the history kept."""
    if status is not None and status not in TriageStatus.values:
        raise TriageRejected(f"status: one of {TriageStatus.values}")
    if status is not None:
        match.status = status
    if note is not None:
        match.note = note[:5000]
    match.save(update_fields=["status", "note"])
    MatchStatusChange.objects.create(match=match, user=user, status=match.status, note=match.note)
    return match


def matches_mark_seen(*, user, matches) -> int:
    """Mark these matches seen by the user (already seen ones stay as they were)."""
    ids = list(matches.values_list("pk", flat=True))
    MatchSeen.objects.bulk_create(
        [MatchSeen(match_id=pk, user=user) for pk in ids], ignore_conflicts=True, batch_size=2000
    )
    return len(ids)


def matches_mark_unseen(*, user, matches) -> int:
    deleted, _ = MatchSeen.objects.filter(user=user, match__in=matches).delete()
    return deleted


def subscription_unsubscribe(*, token: str) -> Subscription | None:
    subscription = Subscription.objects.filter(token=token).select_related("watch_list").first()
    if subscription is not None and subscription.active:
        subscription.active = False
        subscription.save(update_fields=["active", "changed"])
    return subscription


def digest_sent(*, watch_list: WatchList, at=None) -> None:
    WatchList.objects.filter(pk=watch_list.pk).update(last_digest_at=at or timezone.now())
