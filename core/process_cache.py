"""One value per process, kept until its version moves: the range index, the taxon tree and the
active classifier are each built once per process and rebuilt (no restart) when a write elsewhere
bumps their version. The check is one cheap read per call; one thread builds while the others wait."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class VersionedCache(Generic[T]):
    """`get()` returns the value built for the current version. `build(version)` makes it;
    `on_replace(old)` runs once a new value has replaced the old one (close what it holds);
    `drop_old_first` lets the old value go before the new one is built, so two never sit in memory
    together (at the price of a wait for every caller during the build)."""

    def __init__(
        self,
        *,
        version: Callable[[], Hashable],
        build: Callable[[Hashable], T],
        on_replace: Callable[[T], None] | None = None,
        drop_old_first: bool = False,
    ):
        self._version, self._build, self._on_replace = version, build, on_replace
        self._drop_old_first = drop_old_first
        self._lock = threading.Lock()
        self._held: tuple[Hashable, T] | None = None

    def get(self) -> T:
        return self.get_for(self._version())

    def get_for(self, version: Hashable) -> T:
        held = self._held  # one read: another thread may be replacing it
        if held is not None and held[0] == version:
            return held[1]
        with self._lock:
            held = self._held
            if held is None or held[0] != version:
                if self._drop_old_first:
                    self._held = None
                value = self._build(version)
                self._held = (version, value)
                if held is not None and self._on_replace is not None:
                    self._on_replace(held[1])
            return self._held[1]

    def peek(self) -> T | None:
        """The value held now, whatever its version (None before the first build)."""
        held = self._held
        return held[1] if held is not None else None

    def clear(self) -> None:
        """Forget the value (tests, shutdown); `on_replace` sees it go."""
        with self._lock:
            held, self._held = self._held, None
        if held is not None and self._on_replace is not None:
            self._on_replace(held[1])
