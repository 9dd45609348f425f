"""Signed webhooks: HMAC-SHA256 over "<timestamp>.<body>", so a receiver can check origin and age;
and where a webhook may point (https, public addresses only: no SSRF).

Header sent with every alert: `X-RangeWatch-Signature: t=<unix seconds>,v1=<hex digest>`.
Receivers recompute the digest with their shared secret and refuse old timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError

SIGNATURE_HEADER = "X-RangeWatch-Signature"
DEFAULT_TOLERANCE_S = 300


def webhook_sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_verify(
    secret: str, body: bytes, header: str, tolerance_s: int = DEFAULT_TOLERANCE_S, now: float | None = None
) -> bool:
    """What a receiver runs: True only for a matching digest with a fresh timestamp."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        received = parts["v1"]
    except (ValueError, KeyError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received)


# --- Where a webhook may point (SSRF) -----------------------------------------------------------
# A contact's webhook URL is typed by an admin but answered by the worker from inside the network:
# pointed at 127.0.0.1, 169.254.169.254 (cloud metadata), [::1]:6379 or localhost:5432 it made the
# worker talk to internal services and stored their answer where the admin shows it. So: https
# only, every address the name resolves to must be public, checked when the URL is saved AND again
# when each alert is sent (a name can resolve elsewhere by then: DNS rebinding), the POST goes to
# the very address that was checked, and redirects are not followed (alerts.delivery).


class WebhookRefused(ValueError):
    """The URL may not receive webhooks; the message says why."""


class WebhookUnresolvable(WebhookRefused):
    """The host name does not resolve (now): refused when saving, retried when sending."""


@dataclass(frozen=True)
class WebhookTarget:
    """A checked webhook URL and the public address the POST connects to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str

    @property
    def pinned_url(self) -> str:
        """The URL with the checked address in place of the host name (no second lookup)."""
        parts = urlsplit(self.url)
        address = f"[{self.address}]" if ":" in self.address else self.address
        return urlunsplit((self.scheme, f"{address}:{self.port}", parts.path or "/", parts.query, ""))

    @property
    def host_header(self) -> str:
        default = DEFAULT_PORTS[self.scheme]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


DEFAULT_PORTS = {"https": 443, "http": 80}


# IPv6 prefixes that carry an IPv4 address in their last 32 bits: a NAT64 gateway (RFC 6052's
# well-known prefix and RFC 8215's local-use one) forwards 64:ff9b::7f00:1 to 127.0.0.1.
NAT64_NETWORKS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d (RFC 4291 2.5.5.1)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form wraps (issue 23, Low: `::127.0.0.1`, `64:ff9b::7f00:1` and
    `2002:7f00:1::` passed as global): IPv4-mapped, IPv4-compatible, NAT64, 6to4 or Teredo's client."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in IPV4_COMPATIBLE or any(ip in net for net in NAT64_NETWORKS):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip not in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")):
        wrapped = _embedded_ipv4(ip)
        if wrapped is not None:
            ip = wrapped  # ::ffff:127.0.0.1, ::127.0.0.1, 64:ff9b::7f00:1, 2002:7f00:1:: are 127.0.0.1
    if any(ip in ipaddress.ip_network(net, strict=False) for net in settings.RANGEWATCH_WEBHOOK_ALLOWED_NETWORKS):
        return True
    return ip.is_global and not ip.is_multicast


def webhook_target(url: str) -> WebhookTarget:
    """Check `url` and resolve it now; raise WebhookRefused (or WebhookUnresolvable) with the reason."""
    parts = urlsplit(url.strip())
    if parts.scheme not in settings.RANGEWATCH_WEBHOOK_SCHEMES:
        raise WebhookRefused(f"webhook URLs must use {' or '.join(settings.RANGEWATCH_WEBHOOK_SCHEMES)}")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as exc:  # urllib refuses ports outside 0..65535
        raise WebhookRefused("the port is out of range (1-65535)") from exc
    if not parts.hostname or port == 0:
        raise WebhookRefused("the URL needs a host name and a port between 1 and 65535")
    if parts.username or parts.password:
        raise WebhookRefused("credentials in a webhook URL are not accepted (the signature authenticates us)")
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise WebhookUnresolvable(f"{parts.hostname} does not resolve") from exc
    addresses = sorted({info[4][0] for info in infos})
    refused = [a for a in addresses if not _address_allowed(a)]
    if refused:
        # Every address must be public: a name that also resolves inside the network is refused.
        raise WebhookRefused(f"{parts.hostname} resolves to a non-public address ({', '.join(refused)})")
    return WebhookTarget(url=url.strip(), scheme=parts.scheme, host=parts.hostname, port=port, address=addresses[0])


def validate_webhook_url(url: str) -> None:
    """Model field validator (the admin form, full_clean): the same check as at send time."""
    try:
        webhook_target(url)
    except WebhookRefused as exc:
        raise ValidationError(str(exc), code="webhook_url") from exc
