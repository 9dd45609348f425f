"""Micro-batching: many caller threads, one forward pass per batch of up to B items or T ms.

Each task thread of the inference worker decodes its own photo (Pillow and numpy release the GIL)
and submits the array here; one runner thread stacks whatever has arrived, calls the batch function
once and hands every caller its own row. A failing batch is retried item by item so that one bad
input never fails the others.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from typing import Callable, Sequence

import numpy as np

log = logging.getLogger(__name__)


class BatcherClosed(RuntimeError):
    """The batcher was closed (model swapped or process shutting down) before the item ran."""


class MicroBatcher:
    """Collects up to `max_batch` arrays or waits at most `max_wait_ms` after the first one,
    then calls `fn(stacked) -> rows` once; thread-safe.

    `fn` takes an array of shape (n, ...) and returns a sequence of n per-item results.
    """

    def __init__(
        self,
        fn: Callable[[np.ndarray], Sequence],
        *,
        max_batch: int = 16,
        max_wait_ms: float = 10.0,
        stack: Callable[[list], object] = np.stack,
        name: str = "micro-batcher",
    ):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.fn = fn
        self.stack = stack  # np.stack, or Classifier.stack for CUDA tensors
        self.max_batch = max_batch
        self.max_wait = max(0.0, max_wait_ms) / 1000.0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = threading.Event()
        self.batches = 0
        self.items = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- callers -------------------------------------------------------------------------------
    def submit(self, item: np.ndarray) -> Future:
        future: Future = Future()
        if self._closed.is_set():
            future.set_exception(BatcherClosed("the batcher is closed"))
            return future
        self._queue.put((item, future))
        return future

    def __call__(self, item: np.ndarray, timeout: float | None = None):
        """Submit one item and wait for its row (exceptions from `fn` are re-raised here)."""
        return self.submit(item).result(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Finish what was submitted, then stop the runner thread."""
        if not self._closed.is_set():
            self._closed.set()
            self._queue.put(None)
            self._thread.join(timeout)

    @property
    def mean_batch(self) -> float:
        return self.items / self.batches if self.batches else 0.0

    # -- runner --------------------------------------------------------------------------------
    def _collect(self) -> list | None:
        first = self._queue.get()
        if first is None:
            return None
        pending = [first]
        deadline = time.perf_counter() + self.max_wait
        while len(pending) < self.max_batch:
            remaining = deadline - time.perf_counter()
            try:
                nxt = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:  # closing: run what we have, then stop
                self._queue.put(None)
                break
            pending.append(nxt)
        return pending

    def _run(self) -> None:
        while True:
            pending = self._collect()
            if pending is None:
                break
            pending = [(item, fut) for item, fut in pending if fut.set_running_or_notify_cancel()]
            if pending:
                self._run_batch(pending)
        # Anything that slipped in after close() must not wait forever.
        while True:
            try:
                leftover = self._queue.get_nowait()
            except queue.Empty:
                break
            if leftover is not None and leftover[1].set_running_or_notify_cancel():
                leftover[1].set_exception(BatcherClosed("the batcher closed before this item ran"))

    def _run_batch(self, pending: list) -> None:
        self.batches += 1
        self.items += len(pending)
        try:
            rows = self.fn(self.stack([item for item, _ in pending]))
            if len(rows) != len(pending):
                raise RuntimeError(f"batch function returned {len(rows)} rows for {len(pending)} items")
        except Exception as exc:  # noqa: BLE001 - isolate the bad item below
            if len(pending) == 1:
                pending[0][1].set_exception(exc)
                return
            log.warning("batch of %d failed (%s); running its items one by one", len(pending), exc)
            for item, fut in pending:
                try:
                    fut.set_result(self.fn(self.stack([item]))[0])
                except Exception as item_exc:  # noqa: BLE001
                    fut.set_exception(item_exc)
            return
        for (_, fut), row in zip(pending, rows):
            fut.set_result(row)
