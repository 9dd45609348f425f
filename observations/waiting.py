"""Waiting for a result (`?wait=`): one poller thread per server process reads, in one query every
POLL_S, the status of every observation its requests are waiting on, and wakes them when theirs is
final. Each waiting request costs no query of its own and learns its result within POLL_S, however
many wait at once; job state stays in the database (no broker or pub/sub needed, SQLite included).

A waiting request still holds a server thread, so holds are bounded per process and per user
(RANGEWATCH_WAIT_HOLDS_PER_PROCESS / _PER_USER): over a bound the request does not wait and is
answered at once (202, Retry-After), and the other threads stay free for everyone else.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from contextlib import contextmanager

from django.conf import settings
from django.db import close_old_connections, connection

from observations.models import Observation

log = logging.getLogger(__name__)

POLL_S = 0.05
FINAL = (Observation.Status.DONE, Observation.Status.FAILED)


class StatusWatch:
    def __init__(self, poll_s: float = POLL_S):
        self.poll_s = poll_s
        self._cond = threading.Condition()
        self._waiting: dict[int, list[threading.Event]] = {}
        self._final: dict[int, str] = {}
        self._thread: threading.Thread | None = None

    def wait(self, observation_id: int, seconds: float) -> str | None:
        """The observation's final status, or None if it is not final within `seconds`."""
        event = threading.Event()
        with self._cond:
            self._waiting.setdefault(observation_id, []).append(event)
            if self._thread is None or not self._thread.is_alive():  # first use, or after a fork
                self._thread = threading.Thread(target=self._run, name="status-watch", daemon=True)
                self._thread.start()
            self._cond.notify()
        try:
            event.wait(seconds)
        finally:
            with self._cond:
                status = self._final.get(observation_id)
                events = self._waiting.get(observation_id, [])
                if event in events:
                    events.remove(event)
                if not events:  # the last one waiting on this observation
                    self._waiting.pop(observation_id, None)
                    self._final.pop(observation_id, None)
        return status

    def _run(self) -> None:
        while True:
            with self._cond:
                ids = list(self._waiting)
            if not ids:
                _quietly(close_old_connections)  # idle: keep the connection only as long as CONN_MAX_AGE allows
                with self._cond:
                    if not self._waiting:
                        self._cond.wait(timeout=60)
                continue
            final = _final_statuses(ids)
            with self._cond:
                for pk, status in final.items():
                    if pk in self._waiting:
                        self._final[pk] = status
                        for event in self._waiting[pk]:
                            event.set()
            time.sleep(self.poll_s)


def _final_statuses(ids: list[int]) -> dict[int, str]:
    try:
        return dict(Observation.objects.filter(pk__in=ids, status__in=FINAL).values_list("pk", "status"))
    except Exception as exc:  # noqa: BLE001 - the poller outlives any database trouble; waiters time out
        log.warning("status watch: %s", exc)
        _quietly(connection.close)
        return {}


def _quietly(call) -> None:
    try:
        call()
    except Exception as exc:  # noqa: BLE001
        log.debug("status watch: %s", exc)


class WaitHolds:
    """How many of this process's requests are waiting, in all and per user; grants a hold only
    under both bounds (read from settings at each request, so tests and deployments can set them)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._total = 0
        self._by_holder: Counter = Counter()

    @contextmanager
    def hold(self, holder: int | None):
        with self._lock:
            granted = self._total < settings.RANGEWATCH_WAIT_HOLDS_PER_PROCESS and (
                holder is None or self._by_holder[holder] < settings.RANGEWATCH_WAIT_HOLDS_PER_USER
            )
            if granted:
                self._total += 1
                self._by_holder[holder] += 1
        try:
            yield granted
        finally:
            if granted:
                with self._lock:
                    self._total -= 1
                    self._by_holder[holder] -= 1
                    if not self._by_holder[holder]:
                        del self._by_holder[holder]


_watch = StatusWatch()
_holds = WaitHolds()


def wait_for_final_status(observation_id: int, seconds: float, holder: int | None = None) -> str | None:
    """Block up to `seconds` for the observation to be done or failed; its status, or None.

    `holder` (the user's id) is counted against the per-user bound; over either bound this returns
    None at once. Inside a transaction (a test case, an atomic view) the caller polls its own
    connection: it may see rows the watcher's connection cannot."""
    with _holds.hold(holder) as granted:
        if not granted:
            log.info("?wait refused: this process or user %s is at its bound of waiting requests", holder)
            return None
        if connection.in_atomic_block:
            return _poll_own_connection(observation_id, seconds)
        return _watch.wait(observation_id, seconds)


def _poll_own_connection(observation_id: int, seconds: float) -> str | None:
    deadline, pause = time.monotonic() + seconds, POLL_S
    while True:
        status = Observation.objects.filter(pk=observation_id).values_list("status", flat=True).first()
        if status in FINAL:
            return status
        if (remaining := deadline - time.monotonic()) <= 0:
            return None
        time.sleep(min(pause, remaining))
        pause = min(pause * 1.5, 0.5)
