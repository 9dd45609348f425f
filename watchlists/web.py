"""Pages of the watch lists: the lists and a list's map (the page talks to the JSON API with the
token the site's page keeps), the one-click unsubscribe (RFC 8058, no login) and the Atom feed
behind a secret URL."""

from __future__ import annotations

from csp.decorators import csp_update
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from ranges.maps import BASE_MAP_SIMPLIFY
from watchlists.models import Match, Subscription
from watchlists.selectors import WatchListNotFound, shown_records, watch_list_by_feed_token
from watchlists.services import subscription_unsubscribe

FEED_ENTRIES = 200


# MapLibre's controls draw their icons as data: SVG images.
@csp_update({"img-src": ["data:"]})
@require_GET
def watchlists_page(request: HttpRequest, watch_list_id: int | None = None) -> HttpResponse:
    # The countries' outlines under the map a new list's area is drawn on (the page has no tile layer).
    outlines = f"{reverse('region-geojson')}?kind=country&simplify={BASE_MAP_SIMPLIFY}"
    return render(request, "watchlists/page.html", {"watch_list_id": watch_list_id or "", "outlines_url": outlines})


@csrf_exempt  # RFC 8058: mail providers POST "List-Unsubscribe=One-Click" with no cookie and no token
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (link scanners follow GETs: they must not unsubscribe anyone); POST unsubscribes."""
    if request.method == "GET":
        subscription = Subscription.objects.filter(token=token).select_related("watch_list").first()
        status = 200 if subscription else 404
        return render(request, "watchlists/unsubscribe.html", {"subscription": subscription}, status=status)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    subscription = subscription_unsubscribe(token=token)
    status = 200 if subscription else 404
    return render(
        request,
        "watchlists/unsubscribe.html",
        {"subscription": subscription, "done": bool(subscription)},
        status=status,
    )


@require_GET
def atom_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The list's newest matches, as the list's owner may see them; the token is the only key."""
    try:
        watch_list = watch_list_by_feed_token(token)
    except WatchListNotFound as exc:
        raise Http404("no such feed") from exc
    base = settings.RANGEWATCH_PUBLIC_BASE_URL.rstrip("/")
    feed = Atom1Feed(
        title=f"RangeWatch watch list: {watch_list.name}",
        link=f"{base}/watchlists/{watch_list.pk}/",
        description=f"New records in the watch list {watch_list.name}",
        feed_url=request.build_absolute_uri(),
    )
    matches = list(
        Match.objects.filter(watch_list=watch_list).select_related("occurrence").order_by("-id")[:FEED_ENTRIES]
    )
    shown = shown_records(matches, watch_list.owner)
    for m in matches:
        r = shown.get(m.pk)
        if r is None:
            continue
        where = f"{r.latitude:.4f}, {r.longitude:.4f}" if r.latitude is not None else "location withheld"
        link = (
            base + r.record_url
            if r.record_url.startswith("/")
            else (r.record_url or f"{base}/watchlists/{watch_list.pk}/")
        )
        feed.add_item(
            title=f"{r.scientific_name or 'unnamed'} ({m.verdict_status or 'unknown'}) at {where}",
            link=link,
            description=f"{r.explanation} {('Licence: ' + r.license + '. ') if r.license else ''}{r.citation}",
            unique_id=f"{base}/watchlists/{watch_list.pk}/matches/{m.pk}",
            pubdate=m.created,
            updateddate=m.created,
        )
    return HttpResponse(feed.writeString("utf-8"), content_type="application/atom+xml; charset=utf-8")
