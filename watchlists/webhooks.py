"""Signed webhooks that follow a watch list's digest: the contacts' webhooks (alerts.ContactWebhook)
that staff subscribed to a list get, per digest window with new records, one POST of those records
grouped by taxon, each with its point as the list's owner may see it (geoprivacy holds: an
obscured upload shows its public, generalised point), signed and sent by alerts.delivery's one
webhook POST (the target checked again, the checked address pinned, no redirects).

A subscription's window starts where its previous delivery's ended, or at the list's digest mark
when that is later (a webhook added today does not get last year's records), and one row is kept
per start (WebhookDelivery): a re-run of the same window sends nothing twice, and the e-mails'
mark (WatchList.last_digest_at) is neither held back nor moved on by a webhook.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse

from alerts.delivery import delivery_attempt, webhook_post
from watchlists.models import Match, WatchList, WebhookDelivery, WebhookSubscription
from watchlists.selectors import shown_records, window_matches

log = logging.getLogger(__name__)

EVENT = "rangewatch.watch_list_digest"
# The most records in one digest (e-mail or webhook); `more` says there were more.
MAX_RECORDS_PER_DIGEST = 500


def public_url(path: str) -> str:
    """A path of this site as the public address links to it (RANGEWATCH_PUBLIC_BASE_URL); a full URL as it is."""
    return settings.RANGEWATCH_PUBLIC_BASE_URL.rstrip("/") + path if path.startswith("/") else path


def webhook_payload(
    *, watch_list: WatchList, matches: list[Match], since: datetime.datetime, until: datetime.datetime, more: bool
) -> dict:
    """The JSON a subscribed webhook gets for one window: the list, the window, the records grouped
    by taxon (points as the list's owner may see them), and `more` when the window held more."""
    shown = shown_records(matches, watch_list.owner)
    groups: dict[str, list[dict]] = {}
    for m in matches:
        record = shown.get(m.pk)
        if record is None:
            continue
        groups.setdefault(record.scientific_name or "(unnamed)", []).append(
            {
                "match": m.pk,
                "source": m.source,
                "verdict": {"status": m.verdict_status, "explanation": record.explanation},
                "observed_on": m.observed_on.isoformat() if m.observed_on else None,
                "location": {
                    "latitude": record.latitude,
                    "longitude": record.longitude,
                    "generalised": record.generalised,
                },
                "record_id": record.record_id,
                "record_url": public_url(record.record_url),
                "license": record.license,
                "citation": record.citation,
                "sources": list(record.sources),
            }
        )
    return {
        "event": EVENT,
        "watch_list": {
            "id": watch_list.pk,
            "name": watch_list.name,
            "url": public_url(reverse("watchlist-page", args=[watch_list.pk])),
            "matches_url": public_url(reverse("watchlist-matches", args=[watch_list.pk])),
        },
        "window": {"since": since.isoformat(), "until": until.isoformat()},
        "total": sum(len(records) for records in groups.values()),
        "more": more,
        "taxa": [{"scientific_name": name, "records": records} for name, records in sorted(groups.items())],
    }


def webhook_deliveries_record(
    *, watch_list: WatchList, since: datetime.datetime, until: datetime.datetime
) -> list[int]:
    """One pending delivery per active subscription (of an active webhook of an active contact)
    whose window, from `since` (the list's digest mark) or its own last delivery, up to `until`,
    has new records. Returns the ids it created, for the caller to publish; a window already
    recorded creates nothing."""
    subscriptions = (
        watch_list.webhook_subscriptions.filter(active=True, webhook__is_active=True, webhook__contact__is_active=True)
        .select_related("webhook")
        .annotate(last_until=Max("deliveries__until"))
        .order_by("id")
    )
    payloads: dict[datetime.datetime, dict | None] = {}  # subscriptions with one start share one payload
    created = []
    for subscription in subscriptions:
        start = max(since, subscription.last_until) if subscription.last_until else since
        if start >= until:
            continue
        if start not in payloads:
            new = window_matches(watch_list=watch_list, since=start, until=until, limit=MAX_RECORDS_PER_DIGEST + 1)
            payloads[start] = (
                webhook_payload(
                    watch_list=watch_list,
                    matches=new[:MAX_RECORDS_PER_DIGEST],
                    since=start,
                    until=until,
                    more=len(new) > MAX_RECORDS_PER_DIGEST,
                )
                if new
                else None
            )
        if payloads[start] is not None:
            delivery_id = _delivery_record(subscription, start, until, payloads[start])
            if delivery_id is not None:
                created.append(delivery_id)
    return created


def _delivery_record(subscription: WebhookSubscription, since, until, payload: dict) -> int | None:
    """The window's row, made once: None when it was there already (a re-run, a concurrent run)."""
    try:
        with transaction.atomic():
            delivery, made = WebhookDelivery.objects.get_or_create(
                subscription=subscription,
                since=since,
                defaults={"until": until, "target": subscription.webhook.url, "payload": payload},
            )
    except IntegrityError:  # a concurrent run made it
        return None
    return delivery.pk if made else None


def webhook_delivery_send(*, delivery_id: int, final_attempt: bool = False) -> str:
    """POST one delivery, signed. Idempotent (only a pending row is sent); a paused webhook,
    contact or subscription is `skipped`; every try is recorded on the row; transient failures
    raise alerts.delivery.TransientDeliveryError for the task to retry, until the final attempt,
    which records `failed` (a refused target or a 4xx: `failed` at once)."""
    delivery = WebhookDelivery.objects.select_related("subscription__webhook__contact").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return delivery.status if delivery else "missing"
    subscription, hook = delivery.subscription, delivery.subscription.webhook
    if not (subscription.active and hook.is_active and hook.contact.is_active):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.SKIPPED, last_error="webhook, contact or subscription paused"
        )
        return WebhookDelivery.Status.SKIPPED
    return delivery_attempt(
        delivery,
        lambda: webhook_post(
            url=delivery.target, secret=hook.secret, payload=delivery.payload, delivery=f"watchlist-{delivery.pk}"
        ),
        final_attempt=final_attempt,
    )
