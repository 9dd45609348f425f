"""Writes of the watch lists: creating a list, importing occurrences (with their verdicts),
matching records to lists, triage and seen marks."""

from __future__ import annotations

import threading
from collections import Counter

import shapely
from django.db import connection, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from cameratraps.models import Media, Project
from core.errors import ServiceError
from observations.models import Observation, Verification
from observations.selectors import observation_best_taxon
from ranges.geojson import DISPLAY_TOLERANCE_DEG
from ranges.geometry import GeometryRejected, clean_polygonal
from ranges.geometry_files import GeometryFileError, geometry_from_upload
from ranges.index_cache import range_index
from ranges.models import Region
from ranges.selectors import taxon_and_descendant_ids
from ranges.verdict import verdicts_many
from species.models import Taxon
from species.selectors import taxon_by_key_or_id, taxon_tree
from watchlists.matching import ListCriteria, ListIndex, MatchRecord
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
        region_codes=tuple(o.verdict.region_codes) if o.verdict else (),  # select_related("verdict")
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
        batch = list(Occurrence.objects.filter(pk__gt=last).select_related("verdict").order_by("pk")[:chunk])
        if not batch:
            break
        last = batch[-1].pk
        created += matches_sync([_occurrence_record(o) for o in batch], only).get("created", 0)
    ids = list(Observation.objects.filter(status=Observation.Status.DONE).values_list("pk", flat=True))
    for start in range(0, len(ids), chunk):
        created += matches_sync(observation_records(ids[start : start + chunk]), only).get("created", 0)
    return created


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
