"""Signed webhooks: HMAC-SHA256 over "<timestamp>.<body>", so a receiver can check origin and age.

Header sent with every alert: `X-RangeWatch-Signature: t=<unix seconds>,v1=<hex digest>`.
Receivers recompute the digest with their shared secret and refuse old timestamps (replays).
"""
from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-RangeWatch-Signature"
DEFAULT_TOLERANCE_S = 300


def webhook_sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_verify(secret: str, body: bytes, header: str, tolerance_s: int = DEFAULT_TOLERANCE_S, now: float | None = None) -> bool:
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
