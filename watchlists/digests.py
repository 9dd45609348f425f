"""Digests of watch lists: per list and frequency, the new matches since the last digest, grouped
by taxon with their verdicts and a link to each. E-mails (text + HTML, with List-Unsubscribe and
RFC 8058 one-click unsubscribe: a secret per subscription, no login) and, for the contacts'
signed webhooks subscribed to the list, one delivery each (watchlists.webhooks), POSTed by a task."""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from watchlists.models import Frequency, WatchList
from watchlists.selectors import shown_records, window_matches
from watchlists.services import digest_sent
from watchlists.webhooks import MAX_RECORDS_PER_DIGEST, public_url, webhook_deliveries_record

log = logging.getLogger(__name__)
# A list's first digest looks this far back.
FIRST_DIGEST_WINDOW = {
    Frequency.IMMEDIATE: datetime.timedelta(hours=1),
    Frequency.DAILY: datetime.timedelta(days=1),
    Frequency.WEEKLY: datetime.timedelta(days=7),
}


def digest_messages(*, watch_list: WatchList, now=None) -> list[EmailMultiAlternatives]:
    """The e-mails of one list's digest (one per active subscriber with an address); [] when
    nothing is new."""
    now = now or timezone.now()
    since = digest_since(watch_list=watch_list, now=now)
    new = window_matches(watch_list=watch_list, since=since, until=now, limit=MAX_RECORDS_PER_DIGEST + 1)
    if not new:
        return []
    messages = []
    for subscription in watch_list.subscriptions.filter(active=True).select_related("user"):
        user = subscription.user
        if not user.email:
            continue
        shown = shown_records(new[:MAX_RECORDS_PER_DIGEST], user)
        groups = defaultdict(list)
        for m in new[:MAX_RECORDS_PER_DIGEST]:
            record = shown.get(m.pk)
            if record is None:
                continue
            url = public_url(record.record_url)
            groups[record.scientific_name or "(unnamed)"].append({"match": m, "record": record, "url": url})
        unsubscribe_url = public_url(reverse("watchlist-unsubscribe", args=[subscription.token]))
        context = {
            "watch_list": watch_list,
            "groups": sorted(groups.items()),
            "total": len(new[:MAX_RECORDS_PER_DIGEST]),
            "more": len(new) > MAX_RECORDS_PER_DIGEST,
            "list_url": public_url(reverse("watchlist-page", args=[watch_list.pk])),
            "unsubscribe_url": unsubscribe_url,
            "base_url": settings.RANGEWATCH_PUBLIC_BASE_URL.rstrip("/"),
        }
        message = EmailMultiAlternatives(
            subject=f"[RangeWatch] {watch_list.name}: {context['total']} new record(s)",
            body=render_to_string("watchlists/digest.txt", context),
            to=[user.email],
            headers={
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        message.attach_alternative(render_to_string("watchlists/digest.html", context), "text/html")
        messages.append(message)
    return messages


def digest_since(*, watch_list: WatchList, now) -> datetime.datetime:
    """Where the list's digest window starts: its last digest, else a window back from now."""
    return watch_list.last_digest_at or now - FIRST_DIGEST_WINDOW.get(watch_list.frequency, datetime.timedelta(1))


@dataclass
class DigestRun:
    """What one run of a frequency's digests did: e-mails sent, webhook deliveries recorded (for
    the caller to publish: watchlists.tasks)."""

    emails: int = 0
    webhook_deliveries: list[int] = field(default_factory=list)


def digests_send(*, frequency: str, now=None) -> DigestRun:
    """Send every list's digest e-mails of this frequency and record its webhook deliveries
    (`never`: nothing). A list whose e-mails fail keeps its mark and is tried again next time; a
    webhook's trouble touches neither the e-mails, nor the mark, nor the other lists."""
    now = now or timezone.now()
    run = DigestRun()
    if frequency == Frequency.NEVER:
        return run
    for watch_list in WatchList.objects.filter(frequency=frequency).select_related("owner").order_by("id"):
        run.webhook_deliveries += _webhook_deliveries(watch_list=watch_list, now=now)
        run.emails += _emails_send(watch_list=watch_list, now=now)
    return run


def _webhook_deliveries(*, watch_list: WatchList, now) -> list[int]:
    try:
        return webhook_deliveries_record(
            watch_list=watch_list, since=digest_since(watch_list=watch_list, now=now), until=now
        )
    except Exception:  # noqa: BLE001 - whatever it is, the e-mails and the other lists go on
        log.exception("webhook deliveries of watch list %s not recorded", watch_list.pk)
        return []


def _emails_send(*, watch_list: WatchList, now) -> int:
    """The list's digest e-mails; the mark moves only when every one went out."""
    messages = digest_messages(watch_list=watch_list, now=now)
    sent = 0
    try:
        for message in messages:
            message.send()
            sent += 1
    except Exception:  # noqa: BLE001 - SMTP raises many types; the next run sends the digest again
        log.exception("digest of watch list %s not sent", watch_list.pk)
        return sent
    digest_sent(watch_list=watch_list, at=now)
    return sent
