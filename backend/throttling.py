"""Rate limits in the shared cache (every web process sees the same counts): uploads, and the
password endpoints (login, register, admin login) per client address and per account name.

Throttles fail open: a cache outage must not turn uploads or logins into 500s.
"""

import hashlib
import logging

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, SimpleRateThrottle

log = logging.getLogger(__name__)


class _FailOpen:
    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # noqa: BLE001 - redis/file cache errors vary by backend
            log.warning("%s skipped: cache unavailable (%s)", self.__class__.__name__, exc.__class__.__name__)
            return True


class UploadRateThrottle(_FailOpen, ScopedRateThrottle):
    """Uploads per user (the view's throttle_scope)."""


class MapAnonymousThrottle(_FailOpen, AnonRateThrottle):
    """Map GeoJSON for anonymous clients, per address (issue 23, High): a map is simplified once and
    then read from the cache, but each new region or taxon still costs up to a second of geometry
    work, so an anonymous flood is bounded per address. Signed-in users are not counted. The rate is
    read from settings at each request (RANGEWATCH_MAP_ANON_RATE), not frozen at import."""

    scope = "maps_anon"

    def get_rate(self):
        return settings.RANGEWATCH_MAP_ANON_RATE


class _PasswordThrottle(_FailOpen, SimpleRateThrottle):
    """Each password check costs a deliberately slow hash: bounded per address and per account name,
    so a guessing loop neither finds a password nor takes the web processes' CPU from everyone.
    Works on DRF requests and on plain Django ones (the admin's login form)."""


class LoginAddressThrottle(_PasswordThrottle):
    scope = "login_address"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginAccountThrottle(_PasswordThrottle):
    """Per account name, whatever the address (a botnet guessing one account's password)."""

    scope = "login_account"

    def get_cache_key(self, request, view):
        data = getattr(request, "data", None)
        if data is None:  # a plain Django request (the admin login form)
            data = request.POST
        username = data.get("username") if hasattr(data, "get") else None
        if not isinstance(username, str) or not username.strip():
            return None  # nothing to count: the serializer refuses the request anyway
        # Case-folded, as user_register refuses names that differ only in case; hashed, so any
        # text the client sends makes a short key every cache backend accepts.
        ident = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": ident}


class RegisterAddressThrottle(_PasswordThrottle):
    scope = "register_address"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


LOGIN_THROTTLES = [LoginAddressThrottle, LoginAccountThrottle]
REGISTER_THROTTLES = [RegisterAddressThrottle]
