"""Upload throttling that fails open: a cache outage must not turn uploads into 500s."""
import logging

from rest_framework.throttling import ScopedRateThrottle

log = logging.getLogger(__name__)


class UploadRateThrottle(ScopedRateThrottle):
    """Counts in the shared cache (every web process sees the same counts)."""

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # noqa: BLE001 - redis/file cache errors vary by backend
            log.warning("upload throttle skipped: cache unavailable (%s)", exc.__class__.__name__)
            return True
