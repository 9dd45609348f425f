"""MicroBatcher: one forward pass for many callers, each its own row, failures kept per item."""

import threading
import time

import numpy as np
import pytest

from ml.batching import BatcherClosed, MicroBatcher


def rows_of(batch):
    if np.isnan(batch).any():
        raise ValueError("poison item")
    return [float(row.sum()) for row in batch]


def test_concurrent_callers_share_batches_and_get_their_own_rows():
    calls = []

    def fn(batch):
        calls.append(len(batch))
        time.sleep(0.01)  # a forward pass takes time, so callers pile up
        return rows_of(batch)

    batcher = MicroBatcher(fn, max_batch=8, max_wait_ms=20)
    results = {}

    def caller(i):
        results[i] = batcher(np.full((3,), float(i)))

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    assert results == {i: 3.0 * i for i in range(32)}
    assert sum(calls) == 32 and max(calls) <= 8
    assert len(calls) < 32  # batched, not one pass per item


def test_a_lone_item_waits_at_most_about_max_wait():
    batcher = MicroBatcher(rows_of, max_batch=16, max_wait_ms=30)
    started = time.perf_counter()
    assert batcher(np.ones(2)) == 2.0
    assert time.perf_counter() - started < 0.5
    batcher.close()


def test_one_poison_item_does_not_fail_the_others():
    gate = threading.Event()

    def fn(batch):
        gate.wait(1)
        return rows_of(batch)

    batcher = MicroBatcher(fn, max_batch=4, max_wait_ms=200)
    futures = [batcher.submit(np.full(2, v)) for v in (1.0, np.nan, 3.0)]
    gate.set()
    assert futures[0].result(2) == 2.0 and futures[2].result(2) == 6.0
    with pytest.raises(ValueError, match="poison"):
        futures[1].result(2)
    batcher.close()


def test_mismatched_shapes_are_isolated_too():
    batcher = MicroBatcher(rows_of, max_batch=4, max_wait_ms=100)
    good, odd = batcher.submit(np.ones(2)), batcher.submit(np.ones(5))
    assert good.result(2) == 2.0 and odd.result(2) == 5.0
    batcher.close()


def test_close_finishes_submitted_work_then_refuses():
    batcher = MicroBatcher(rows_of, max_batch=4, max_wait_ms=50)
    future = batcher.submit(np.ones(3))
    batcher.close()
    assert future.result(1) == 3.0
    with pytest.raises(BatcherClosed):
        batcher(np.ones(3), timeout=1)
