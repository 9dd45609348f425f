"""Imported (-I) by the prefork worker of tests/e2e/test_prefork_child_start.py: every pool child takes
SLOW_CHILD_START_S seconds in worker_process_init before it can report up, as an inference child
does while it builds its range index and loads the model (classifier.inference.warm_up) on a busy
machine; then it says so on stdout."""

import os
import time

from celery import signals


@signals.worker_process_init.connect(weak=False)
def _slow_child_start(**kwargs) -> None:
    time.sleep(float(os.environ["SLOW_CHILD_START_S"]))
    print(f"child {os.getpid()} started", flush=True)
