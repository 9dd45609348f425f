"""The web page at `/`: for people without the phone app. One template; the page talks to the JSON API."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def web_index(request: HttpRequest) -> HttpResponse:
    # No server-side state: the page keeps its API token in localStorage and calls /api/v1/ itself.
    return render(request, "observations/index.html")
