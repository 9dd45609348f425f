"""Reads of the watch lists: the lists a user may see, a list's matches with filters, what each
match shows to whom (geoprivacy), exports, map clusters."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

from django.db.models import Count, Exists, FloatField, OuterRef, Q
from django.db.models.functions import Cast, Floor

from core.errors import NotFound
from observations.models import Observation
from observations.selectors import can_see_exact, observation_public_location
from ranges.selectors import taxon_and_descendant_ids
from species.models import Taxon
from species.selectors import taxon_by_key_or_id
from watchlists.models import Match, MatchComment, MatchSeen, OccurrenceVerdict, TriageStatus, WatchList

# Uploads and frames in a list are few next to imported records: grouped in Python, the newest this many.
OBSERVATION_CLUSTER_LIMIT = 20000


class WatchListNotFound(NotFound):
    def __init__(self):
        super().__init__("no such watch list")


class MatchNotFound(NotFound):
    def __init__(self):
        super().__init__("no such match in this list")


def watch_lists_for(*, user):
    return (
        WatchList.objects.filter(Q(owner=user) | Q(members=user))
        .distinct()
        .prefetch_related("regions", "taxa")
        .order_by("id")
    )


def watch_list_for(*, user, watch_list_id: int) -> WatchList:
    """Owner or member; for anyone else the list does not exist (404)."""
    found = watch_lists_for(user=user).filter(pk=watch_list_id).first()
    if found is None:
        raise WatchListNotFound()
    return found


def watch_list_by_feed_token(token: str) -> WatchList:
    found = WatchList.objects.filter(feed_token=token).select_related("owner").first()
    if found is None:
        raise WatchListNotFound()
    return found


@dataclass(frozen=True)
class MatchFilters:
    taxon: str | None = None
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    status: list[str] | None = None
    seen: bool | None = None
    source: str | None = None
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north


def list_matches(*, watch_list: WatchList, user, filters: MatchFilters = MatchFilters()):
    qs = Match.objects.filter(watch_list=watch_list)
    if filters.taxon:
        taxon = taxon_by_key_or_id(filters.taxon)
        qs = qs.filter(taxon_id__in=taxon_and_descendant_ids(taxon)) if taxon else qs.none()
    if filters.date_from:
        qs = qs.filter(observed_on__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(observed_on__lte=filters.date_to)
    if filters.status:
        qs = qs.filter(status__in=filters.status)
    if filters.source:
        qs = qs.filter(source=filters.source)
    if filters.bbox:
        # Imported records by their point; uploads and frames are kept for the caller to place by the
        # point the viewer may see (in_bbox): a true point in a small box would betray an obscured record.
        west, south, east, north = filters.bbox
        inside = Q(latitude__gte=south, latitude__lte=north, longitude__gte=west, longitude__lte=east)
        qs = qs.filter(inside | Q(occurrence__isnull=True))
    if filters.seen is not None:
        seen = Exists(MatchSeen.objects.filter(match=OuterRef("pk"), user=user))
        qs = qs.filter(seen) if filters.seen else qs.exclude(seen)
    return qs


def in_bbox(latitude: float | None, longitude: float | None, bbox) -> bool:
    if bbox is None:
        return True
    if latitude is None:
        return False
    west, south, east, north = bbox
    return south <= latitude <= north and west <= longitude <= east


def new_view(qs):
    """The "new" view: a record managed, not found or needing no action leaves it (exports keep it)."""
    return qs.filter(status__in=[TriageStatus.NEW, TriageStatus.HANDLING])


def match_for(*, watch_list: WatchList, match_id: int) -> Match:
    found = Match.objects.filter(watch_list=watch_list, pk=match_id).first()
    if found is None:
        raise MatchNotFound()
    return found


def window_matches(*, watch_list: WatchList, since, until, limit: int) -> list[Match]:
    """A digest window's new records: matched after `since`, up to `until`, still `new`; by taxon
    name, at most `limit` (ask for one more than is sent to know there are more)."""
    return list(
        Match.objects.filter(watch_list=watch_list, created__gt=since, created__lte=until, status=TriageStatus.NEW)
        .select_related("occurrence", "taxon")
        .order_by("taxon__scientific_name", "id")[:limit]
    )


@dataclass(frozen=True)
class ShownRecord:
    """A match as one viewer may see it: the point (None: withheld), what it is, where it came from."""

    latitude: float | None
    longitude: float | None
    generalised: str  # "" or what was done to the point
    record_id: str
    record_url: str
    photo_url: str
    scientific_name: str
    license: str
    citation: str
    explanation: str
    sources: tuple = ()  # the verdict's sources (each a dict: name, url, ...)


def shown_records(matches: list[Match], viewer) -> dict[int, ShownRecord]:
    """Imported occurrences are public as published; uploads and frames show the list owner the
    point that the owner may see (their own or as a reviewer: exact; else the public, generalised one)."""
    obs_ids = [m.observation_id for m in matches if m.observation_id]
    observations = {
        o.pk: o
        for o in Observation.objects.filter(pk__in=obs_ids).select_related(
            "verdict", "verdict__taxon", "prediction__taxon", "verified_taxon", "community_taxon"
        )
    }
    taxa = dict(
        Taxon.objects.filter(pk__in={m.taxon_id for m in matches if m.taxon_id}).values_list("pk", "scientific_name")
    )
    verdicts = {m.occurrence.verdict_id for m in matches if m.occurrence_id}  # shared: a few, read once
    explanations, sources = {}, {}
    for pk, explanation, cited in OccurrenceVerdict.objects.filter(pk__in=verdicts).values_list(
        "pk", "explanation", "sources"
    ):
        explanations[pk], sources[pk] = explanation, tuple(cited or ())
    out = {}
    for m in matches:
        name = taxa.get(m.taxon_id, "")
        if m.occurrence_id:
            o = m.occurrence
            out[m.pk] = ShownRecord(
                o.latitude,
                o.longitude,
                "",
                f"{o.dataset}:{o.occurrence_id}",
                o.source_url,
                "",
                name or o.scientific_name,
                o.license,
                o.citation,
                explanations.get(o.verdict_id, ""),
                sources.get(o.verdict_id, ()),
            )
            continue
        observation = observations.get(m.observation_id)
        if observation is None:
            continue
        if can_see_exact(user=viewer, observation=observation):
            lat, lon, note = observation.latitude, observation.longitude, ""
        else:
            place = observation_public_location(observation)
            lat, lon = place.latitude, place.longitude
            note = place.data_generalizations or place.information_withheld
        verdict = getattr(observation, "verdict", None)
        out[m.pk] = ShownRecord(
            lat,
            lon,
            note,
            str(observation.uuid),
            f"/api/v1/feed/{observation.uuid}/",
            f"/api/v1/observations/{observation.uuid}/photo/",
            name,
            "",
            "RangeWatch observation",
            verdict.explanation if verdict else "",
            tuple(verdict.sources or ()) if verdict else (),
        )
    return out


def seen_ids(*, user, match_ids) -> set[int]:
    return set(MatchSeen.objects.filter(user=user, match_id__in=list(match_ids)).values_list("match_id", flat=True))


def match_comments(*, match: Match):
    """A record's comments, oldest first (the caller has checked that the viewer may triage the list)."""
    return MatchComment.objects.filter(match=match).select_related("author").order_by("created", "id")


def comment_counts(*, match_ids) -> dict[int, int]:
    """How many comments each of these matches has (one query for a page; absent: none)."""
    rows = (
        MatchComment.objects.filter(match_id__in=list(match_ids))
        .order_by()
        .values("match_id")
        .annotate(n=Count("id"))
        .values_list("match_id", "n")
    )
    return dict(rows)


def match_clusters(*, watch_list: WatchList, user, filters: MatchFilters, zoom: int, limit: int = 2000) -> list[dict]:
    """Counts per grid cell for the map at low zoom: 360 / 2^zoom / 4 degrees, about four cells
    per tile side. Imported occurrences (public as published) are grouped by the database; uploads
    and frames are grouped by the point each viewer may see, so a cell never gives away an
    obscured or withheld record's true place."""
    cell = 360.0 / (2 ** max(0, min(zoom, 20))) / 4
    qs = list_matches(watch_list=watch_list, user=user, filters=filters)
    rows = (
        qs.filter(occurrence__isnull=False)
        .annotate(cx=Floor(Cast("longitude", FloatField()) / cell), cy=Floor(Cast("latitude", FloatField()) / cell))
        .values("cx", "cy")
        .annotate(n=Count("id"))
        .order_by("-n")[:limit]
    )
    counts: dict[tuple[int, int], int] = {(int(r["cx"]), int(r["cy"])): r["n"] for r in rows}
    own = list(qs.filter(observation__isnull=False).order_by("-id")[:OBSERVATION_CLUSTER_LIMIT])
    for record in shown_records(own, user).values():
        if record.latitude is None or not in_bbox(record.latitude, record.longitude, filters.bbox):
            continue
        key = (math.floor(record.longitude / cell), math.floor(record.latitude / cell))
        counts[key] = counts.get(key, 0) + 1
    return [{"lon": (cx + 0.5) * cell, "lat": (cy + 0.5) * cell, "count": n} for (cx, cy), n in counts.items()]
