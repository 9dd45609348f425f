"""Rate limits in the shared cache (every web process sees the same counts): uploads, and the
password endpoints (login, register, admin login) per client address and per account name.

Throttles fail open: a cache outage must not turn uploads or logins into 500s.
"""

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import AnonRateThrottle, BaseThrottle, ScopedRateThrottle, SimpleRateThrottle

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


def _login_name(request) -> str | None:
    """The account name a login request is for (DRF or plain Django request), or None."""
    data = getattr(request, "data", None)
    if data is None:  # a plain Django request (the admin login form)
        data = request.POST
    username = data.get("username") if hasattr(data, "get") else None
    if not isinstance(username, str) or not username.strip():
        return None  # nothing to count: the serializer refuses the request anyway
    return username


def _hashed(*parts: str) -> str:
    # Case-folded, as user_register refuses names that differ only in case; hashed, so any text the
    # client sends makes a short key every cache backend accepts.
    return hashlib.sha256("\x00".join(p.strip().casefold() for p in parts).encode()).hexdigest()[:32]


class LoginFailureDelays:
    """Growing delays after failed password checks, never a hard lock (issue 23, Medium: 20 wrong
    passwords from one address locked the owner out for an hour, and the count included tries the
    address throttle had already refused).

    Only real password checks are counted: a failure is recorded from Django's `user_login_failed`
    signal, which only `authenticate()` sends, after every throttle let the request through. Two
    counts, each forgotten an hour after its last failure:

    - per account and address: RANGEWATCH_LOGIN_FREE_FAILURES_PER_ADDRESS free failures, then the
      next try from that address waits 1 s, 2 s, 4 s ... up to RANGEWATCH_LOGIN_MAX_DELAY_S;
    - per account, from every address: RANGEWATCH_LOGIN_FREE_FAILURES_PER_ACCOUNT free, then the
      same growth, for addresses that have not signed in to the account before (a successful login
      makes its address known for 30 days).

    So one address guessing slows down only itself, and a botnet slows down new addresses while the
    owner's correct password from an address they have used still works. A success clears the count
    of its account and address. Counts are read and written without a lock: two failures at the
    same instant may count once, which a delay of a second does not need to be exact about."""

    WINDOW_S = 3600
    KNOWN_ADDRESS_S = 30 * 24 * 3600

    def __init__(self, request, username: str):
        self.ident = LoginAddressThrottle().get_ident(request) or ""  # no address known: one shared count
        self.pair_key = f"login_fail:pair:{_hashed(username, self.ident)}"
        self.account_key = f"login_fail:account:{_hashed(username)}"
        self.known_key = f"login_known:{_hashed(username, self.ident)}"

    @staticmethod
    def _delay(state: dict | None, free: int) -> float:
        """Seconds from now until the next try, by the failures in `state` beyond `free`."""
        if not state or state["failures"] < free:
            return 0.0
        delay = min(2.0 ** (state["failures"] - free), settings.RANGEWATCH_LOGIN_MAX_DELAY_S)
        return state["at"] + delay - time.time()

    def wait(self) -> float:
        waits = [self._delay(cache.get(self.pair_key), settings.RANGEWATCH_LOGIN_FREE_FAILURES_PER_ADDRESS)]
        if not cache.get(self.known_key):
            waits.append(self._delay(cache.get(self.account_key), settings.RANGEWATCH_LOGIN_FREE_FAILURES_PER_ACCOUNT))
        return max(waits)

    def failed(self) -> None:
        now = time.time()
        for key in (self.pair_key, self.account_key):
            failures = (cache.get(key) or {"failures": 0})["failures"] + 1
            cache.set(key, {"failures": failures, "at": now}, self.WINDOW_S)

    def succeeded(self) -> None:
        cache.delete(self.pair_key)
        cache.set(self.known_key, True, self.KNOWN_ADDRESS_S)


def login_failure_record(request, username) -> None:
    """A password check failed (from `user_login_failed`); fails open like the throttles."""
    if request is None or not isinstance(username, str) or not username.strip():
        return
    try:
        LoginFailureDelays(request, username).failed()
    except Exception as exc:  # noqa: BLE001 - redis/file cache errors vary by backend
        log.warning("login failure not counted: cache unavailable (%s)", exc.__class__.__name__)


def login_success_record(request, username: str) -> None:
    """A password check succeeded: its address is known to the account from now on."""
    if request is None:
        return
    try:
        LoginFailureDelays(request, username).succeeded()
    except Exception as exc:  # noqa: BLE001
        log.warning("login success not recorded: cache unavailable (%s)", exc.__class__.__name__)


class LoginAccountThrottle(_FailOpen, BaseThrottle):
    """The delay the account's earlier failures ask of this address (LoginFailureDelays). Records
    nothing: DRF asks every throttle even when an earlier one refused the request."""

    def allow_request(self, request, view):
        username = _login_name(request)
        self._wait = 0.0 if username is None else LoginFailureDelays(request, username).wait()
        return self._wait <= 0

    def wait(self):
        return max(1.0, self._wait)


class RegisterAddressThrottle(_PasswordThrottle):
    scope = "register_address"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


LOGIN_THROTTLES = [LoginAddressThrottle, LoginAccountThrottle]
REGISTER_THROTTLES = [RegisterAddressThrottle]
