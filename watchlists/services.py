"""Writes of the watch lists: creating a list, triage and seen marks. Importing occurrences (with
their verdicts) is watchlists.importing; matching records to lists is watchlists.matching."""

from __future__ import annotations

from http import HTTPStatus

import shapely
from django.db import transaction
from django.utils import timezone

from alerts.models import ContactWebhook
from core.errors import ServiceError
from ranges.geojson import DISPLAY_TOLERANCE_DEG
from ranges.geometry import GeometryRejected, clean_polygonal
from ranges.geometry_files import GeometryFileError, geometry_from_upload
from ranges.models import Region
from species.models import Taxon
from species.selectors import taxon_by_key_or_id
from watchlists.matching import watch_list_match_existing
from watchlists.models import (
    MAX_COMMENT_CHARS,
    Match,
    MatchComment,
    MatchSeen,
    MatchStatusChange,
    MinimumVerification,
    Rule,
    Source,
    Subscription,
    TriageStatus,
    WatchList,
    WebhookSubscription,
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


class WebhookSubscribeDenied(ServiceError):
    """Only staff attach a contact's webhook to a list: an agency's endpoint is not for any user to fill."""

    status = HTTPStatus.FORBIDDEN
    code = "permission_denied"

    def __init__(self):
        super().__init__("only staff subscribe a contact's webhook to a list", fields={"webhooks": ["staff only"]})


def _webhooks_from(ids, *, by) -> list[ContactWebhook]:
    """The active webhooks these ids name, if `by` may attach them (staff); else a typed refusal."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    if not getattr(by, "is_staff", False):
        raise WebhookSubscribeDenied()
    rows = list(ContactWebhook.objects.filter(pk__in=ids, is_active=True, contact__is_active=True))
    unknown = sorted(set(ids) - {row.pk for row in rows})
    if unknown:
        raise WatchListRejected(f"webhooks: no active contact webhook {', '.join(map(str, unknown))}", "webhooks")
    return rows


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
    webhooks: list[int] = (),
    match_existing: bool = True,
) -> WatchList:
    """A list and its owner's digest subscription, and the contacts' `webhooks` (ids) that follow
    its digest (the owner must be staff). `match_existing`: the records already here are matched
    after commit, in this process (the API passes False and queues watchlists.match_existing: at
    millions of records that is a job, not part of a request)."""
    webhook_rows = _webhooks_from(webhooks, by=owner)
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
    WebhookSubscription.objects.bulk_create(
        [WebhookSubscription(watch_list=watch_list, webhook=hook, added_by=owner) for hook in webhook_rows]
    )
    if match_existing:
        transaction.on_commit(lambda: watch_list_match_existing(watch_list=watch_list))
    return watch_list


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


class CommentRejected(ServiceError):
    """A comment that cannot be kept (400): empty, or longer than MAX_COMMENT_CHARS."""

    code = "invalid_comment"

    def __init__(self, message: str):
        super().__init__(message, fields={"text": [message]})


def match_comment_add(*, match: Match, author, text: str) -> MatchComment:
    """A comment on a record of a list; the caller has checked that `author` may triage the list."""
    text = (text or "").strip()
    if not text:
        raise CommentRejected("a comment needs some text")
    if len(text) > MAX_COMMENT_CHARS:
        raise CommentRejected(f"at most {MAX_COMMENT_CHARS} characters ({len(text)} given)")
    return MatchComment.objects.create(match=match, author=author, text=text)


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
