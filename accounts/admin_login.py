"""The admin's login form behind the same password throttles as the API's login (per address and
per account name): a guessing loop against /admin/login/ gets 429 with Retry-After."""

import math

from django.contrib import admin
from django.http import HttpResponse

from core.throttling import LOGIN_THROTTLES


def throttled_admin_login(request, extra_context=None):
    """admin.site.login, after the throttles (only POSTs check a password)."""
    if request.method == "POST":
        for throttle in (cls() for cls in LOGIN_THROTTLES):
            if not throttle.allow_request(request, None):
                response = HttpResponse(
                    "Too many login attempts. Try again later.\n", status=429, content_type="text/plain"
                )
                response["Retry-After"] = str(max(1, math.ceil(throttle.wait() or 1)))
                return response
    return admin.site.login(request, extra_context)
