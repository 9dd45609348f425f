"""The HTTP client: the calls the phone app makes, with retries, backoff and typed errors."""

from __future__ import annotations

import time
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

# Every path, method and field this client relies on. tests/mobile_client_stub/test_schema.py
# checks each against the live server's OpenAPI schema, so a contract change breaks a test first.
CONTRACT = [
    {
        "method": "post",
        "path": "/api/v1/observations/",
        "form": ["photo", "latitude", "longitude", "observed_at"],
        "query": ["wait"],
        "headers": ["Idempotency-Key"],
        "response": ["ObservationOutput"],
    },
    # The detail view answers ObservationDetailOutput: ObservationOutput plus the owner's extras.
    {
        "method": "get",
        "path": "/api/v1/observations/{observation_id}/",
        "query": ["wait"],
        "response": ["ObservationOutput", "ObservationDetailOutput"],
    },
    {"method": "get", "path": "/api/v1/observations/", "query": ["limit", "offset"]},
    {"method": "post", "path": "/api/v1/auth/register/", "json": ["username", "password", "email"]},
    {"method": "post", "path": "/api/v1/auth/login/", "json": ["username", "password"]},
    {"method": "post", "path": "/api/v1/auth/logout/"},
    # A camera-trap batch sent into a project (--project): its quota, the batch queue.
    {"method": "get", "path": "/api/v1/projects/{name}/"},
    {
        "method": "post",
        "path": "/api/v1/projects/{name}/observations/",
        "form": ["photo", "latitude", "longitude", "observed_at", "deployment"],
        "headers": ["Idempotency-Key"],
        "response": ["ObservationOutput"],
    },
]
# Fields of ObservationOutput that render.py and the web page read (dotted paths through nested objects).
RESULT_FIELDS = [
    "id",
    "status",
    "created",
    "observed_at",
    "model_version",
    "location.latitude",
    "location.longitude",
    "location.source",
    "location.flags",
    "predictions.key",
    "predictions.score",
    "predictions.expected_here",
    "predictions.taxon.scientific_name",
    "predictions.taxon.common_name",
    "identification.score",
    "identification.taxon.scientific_name",
    "identification.taxon.common_name",
    "identification.taxon.rank",
    "verdict.status",
    "verdict.explanation",
    "verdict.region.name",
    "verdict.sources.name",
    "verdict.sources.url",
    "species_info.summary",
    "species_info.habitat",
    "species_info.diet",
    "species_info.iucn_category_label",
    "species_info.conservation_note",
    "species_info.how_to_help",
    "alert.level",
    "alert.message",
    "alert.contacts.organisation",
    "alert.contacts.kind",
    "alert.contacts.region_name",
    "alert.contacts.phone",
    "alert.contacts.email",
    "alert.contacts.url",
    "alert.contacts.hours",
    "failure.code",
    "failure.detail",
]

FINAL_STATUSES = ("done", "failed")
RETRY_STATUSES = (429, 502, 503, 504)  # 429/503 per the contract; 502/504 come from a proxy in front
MAX_SERVER_WAIT = 10  # the API's ?wait ceiling


class ApiError(Exception):
    """A typed answer from the server: status, the error code of {"error": {...}}, detail, fields."""

    def __init__(self, status: int, code: str, detail: str, fields: dict | None = None):
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail, self.fields = status, code, detail, fields or {}


class NotAuthenticated(ApiError):
    """401: no token, or it expired."""


class TooLarge(ApiError):
    """413: the body is over the server's upload cap."""


class Unavailable(ApiError):
    """429 / 503 (or the network) still failing after every retry; worth trying later, after
    `retry_after` seconds when the server said so."""

    def __init__(self, *args, retry_after: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class _Retry(Retry):
    # urllib3 also resends a 413 that carries Retry-After; a photo over the size cap stays over it.
    RETRY_AFTER_STATUS_CODES = frozenset({429, 503})


def retry_policy(attempts: int = 5, backoff_factor: float = 0.5, connect_attempts: int | None = None) -> Retry:
    """urllib3's retries for network errors, 429 and 502-504: exponential backoff with jitter, and a
    server's Retry-After honoured on 429/503 (capped at 5 minutes); `connect_attempts` bounds the
    tries to open a connection. POST is retried too: every
    upload carries an Idempotency-Key, so a resent upload names the same observation."""
    return _Retry(
        total=attempts - 1,
        # None: as `total`. A person at a terminal gets 1: a server that refuses the connection is said at
        # once (which one, and how to set another) instead of after ~8 s of silent backoff.
        connect=None if connect_attempts is None else connect_attempts - 1,
        backoff_factor=backoff_factor,
        backoff_max=30,
        backoff_jitter=backoff_factor,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,
        respect_retry_after_header=True,
        retry_after_max=300,
        raise_on_status=False,
    )


def _retry_after(response: requests.Response) -> float | None:
    """The server's Retry-After in seconds (a number or an HTTP date, read by urllib3), or None."""
    try:
        return Retry().parse_retry_after(response.headers["Retry-After"])
    except (KeyError, InvalidHeader):
        return None


def _error_from(response: requests.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error", {}) if isinstance(body, dict) else {}
    default_codes = {401: "not_authenticated", 413: "too_large", 429: "throttled", 503: "unavailable"}
    code = error.get("code") or default_codes.get(response.status_code, "error")
    detail = error.get("detail") or response.reason or "request failed"
    if response.status_code in RETRY_STATUSES:
        return Unavailable(response.status_code, code, detail, error.get("fields"), retry_after=_retry_after(response))
    cls = {401: NotAuthenticated, 413: TooLarge}.get(response.status_code, ApiError)
    return cls(response.status_code, code, detail, error.get("fields"))


class RangeWatchClient:
    """One device's connection to the server. Not shared between threads: each thread makes its own
    (a requests.Session is not thread-safe)."""

    def __init__(self, server: str, token: str | None = None, *, retry: Retry | None = None, timeout: float = 30.0):
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "rangewatch-mobile-client-stub/1"
        adapter = HTTPAdapter(max_retries=retry or retry_policy())
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    # -- transport -------------------------------------------------------------------------
    def request(
        self, method: str, path: str, *, auth: bool = True, extra_timeout: float = 0, **kwargs
    ) -> requests.Response:
        """One call; the session's Retry resends on network errors, 429 and 502-504.
        Raises ApiError subclasses for error answers."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if auth and self.token:
            headers["Authorization"] = f"Token {self.token}"
        try:
            response = self.session.request(
                method, self.server + path, headers=headers, timeout=self.timeout + extra_timeout, **kwargs
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise Unavailable(0, "network", f"could not reach {self.server}: {exc.__class__.__name__}") from exc
        if response.status_code >= 400:
            raise _error_from(response)
        return response

    # -- auth ------------------------------------------------------------------------------
    def register(self, username: str, password: str, email: str | None = None) -> dict:
        body = {"username": username, "password": password, **({"email": email} if email else {})}
        return self.request("POST", "/api/v1/auth/register/", json=body, auth=False).json()

    def login(self, username: str, password: str) -> dict:
        return self.request(
            "POST", "/api/v1/auth/login/", json={"username": username, "password": password}, auth=False
        ).json()

    def logout(self) -> None:
        self.request("POST", "/api/v1/auth/logout/")

    # -- observations ----------------------------------------------------------------------
    def upload(
        self,
        photo: bytes,
        filename: str,
        *,
        idempotency_key: str,
        latitude: float | None = None,
        longitude: float | None = None,
        observed_at: str | None = None,
        wait: float = 0,
        project: str | None = None,
        deployment: str | None = None,
    ) -> dict:
        """POST the photo; the same key always names the same observation (202 queued, or 200 done).
        With `project`, a frame of that camera-trap project from `deployment` (placed at the
        deployment when no coordinates are given; a new deployment needs them)."""
        data = {}
        if latitude is not None and longitude is not None:
            data.update(latitude=f"{latitude:.6f}", longitude=f"{longitude:.6f}")
        if observed_at:
            data["observed_at"] = observed_at
        path = "/api/v1/observations/"
        if project:
            path = f"/api/v1/projects/{quote(project, safe='')}/observations/"
            data["deployment"] = deployment or ""
        wait = min(max(wait, 0), MAX_SERVER_WAIT)
        response = self.request(
            "POST",
            path,
            params={"wait": wait} if wait else None,
            data=data,
            files={"photo": (filename, photo, "image/jpeg")},
            headers={"Idempotency-Key": idempotency_key},
            extra_timeout=wait,
        )
        return response.json()

    def project(self, name: str) -> dict:
        """A camera-trap project this account is a member of (404 otherwise)."""
        return self.request("GET", f"/api/v1/projects/{quote(name, safe='')}/").json()

    def observation(self, observation_id: str, *, wait: float = 0) -> dict:
        # By id on our own server, not the Location URL: the token never goes to a host we did not choose.
        wait = min(max(wait, 0), MAX_SERVER_WAIT)
        path = f"/api/v1/observations/{observation_id}/"
        return self.request("GET", path, params={"wait": wait} if wait else None, extra_timeout=wait).json()

    def wait_for(self, observation: dict, *, timeout: float = 120) -> dict:
        """Long-poll (?wait=10) until the observation is done or failed, or the timeout passes."""
        deadline = time.monotonic() + timeout
        while observation["status"] not in FINAL_STATUSES:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            observation = self.observation(observation["id"], wait=min(MAX_SERVER_WAIT, left))
        return observation

    def observations(self, *, limit: int = 20, offset: int = 0) -> dict:
        """The caller's observations, newest first: {"count", "next", "previous", "results"}."""
        return self.request("GET", "/api/v1/observations/", params={"limit": limit, "offset": offset}).json()

    def schema(self) -> dict:
        return self.request("GET", "/api/schema/", params={"format": "json"}, auth=False).json()
