"""The worker's classifier: loaded once per process, micro-batched across task threads, swapped
when another model version is activated, and warmed up when the worker starts.

The inference worker runs a thread pool (`-P threads --concurrency B`): each task thread decodes
its own photo and waits on one shared forward pass (ml.engine.BatchingClassifier). The warm-up
and heartbeat hooks below need this module imported at worker start:
`celery worker -I classifier.inference`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import socket
import threading
import time

from celery import current_app, signals
from celery.exceptions import WorkerShutdown
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, connection

from classifier.models import ModelVersion
from classifier.selectors import NoActiveModel, active_model_version
from core.jobs import INFERENCE_QUEUE
from core.process_cache import VersionedCache
from ml.artifacts import ArtifactError
from ml.batching import BatcherClosed
from ranges.index_cache import range_index_warm

log = logging.getLogger(__name__)


def _backend() -> str:
    return settings.RANGEWATCH_INFERENCE_BACKEND


def _load(version: ModelVersion):
    from ml.engine import BatchingClassifier, Classifier  # torch/onnxruntime load here, in workers only

    classifier = Classifier.load(
        version.path,
        backend=_backend(),
        device=settings.RANGEWATCH_INFERENCE_DEVICE,
        threads=settings.RANGEWATCH_TORCH_THREADS,
        top_k=settings.RANGEWATCH_TOP_K,
        max_pixels=settings.RANGEWATCH_MAX_IMAGE_PIXELS,
        onnx_cache_dir=settings.RANGEWATCH_ONNX_CACHE_DIR or None,
    )
    log.info(
        "serving model version %s (%s) from %s: backend=%s device=%s threads=%s loaded in %.2fs",
        version.name,
        version.arch,
        version.path,
        classifier.backend,
        classifier.device,
        classifier.threads,
        classifier.load_seconds,
    )
    return BatchingClassifier(
        classifier,
        max_batch=settings.RANGEWATCH_BATCH_SIZE,
        max_wait_ms=settings.RANGEWATCH_BATCH_WAIT_MS,
    )


def serving_prepare(path) -> float:
    """Build what the workers' backend will load (the ONNX export, on CPU) before the version is
    registered or activated, so that a worker's cold start or model switch does not pay for it.
    Verifies the artifact on the way. Returns the seconds spent."""
    if _backend() != "onnxruntime":
        return 0.0
    from ml.engine import Classifier

    return Classifier.load(
        path, backend="onnxruntime", threads=1, onnx_cache_dir=settings.RANGEWATCH_ONNX_CACHE_DIR or None
    ).load_seconds


class ModelUnavailable(ArtifactError):
    """The active version's artifact cannot be loaded here (missing, checksum mismatch, unreadable):
    each job fails with `model_unavailable` and this reason, and /healthz says degraded."""

    code = "model_unavailable"


# Issue 23: a broken model force-activated from the admin left every upload in `processing` ~4 min
# while /healthz said "ok". A version that failed to load is not tried again (hashing, reading
# hundreds of MB) for BROKEN_RETRY_S; meanwhile jobs fail at once, and the cache says why.
BROKEN_RETRY_S = 60.0
MODEL_UNAVAILABLE_KEY = "classifier:model-unavailable"  # /healthz reads it
_broken: tuple[int, float, str] | None = None  # (model version id, monotonic time, reason)


def _still_broken(version_pk: int) -> str | None:
    broken = _broken
    if broken is not None and broken[0] == version_pk and time.monotonic() - broken[1] < BROKEN_RETRY_S:
        return broken[2]
    return None


def _report_unavailable(reason: str | None) -> None:
    try:
        if reason is None:
            cache.delete(MODEL_UNAVAILABLE_KEY)
        else:
            cache.set(MODEL_UNAVAILABLE_KEY, {"reason": reason[:500], "at": time.time()}, timeout=HEARTBEAT_TTL_S * 4)
    except Exception as exc:  # noqa: BLE001 - a cache outage must not hide the model's own error
        log.warning("model availability not written to the cache: %s", exc)


def _load_serving(version: ModelVersion):
    """The batching classifier of `version`, or ModelUnavailable (remembered for BROKEN_RETRY_S)."""
    global _broken
    if reason := _still_broken(version.pk):
        raise ModelUnavailable(reason)
    try:
        loaded = _load(version)
    except ArtifactError as exc:
        reason = f"model version {version.name} cannot be loaded: {exc}"
        _broken = (version.pk, time.monotonic(), reason)
        log.error("%s", reason)
        _report_unavailable(reason)
        raise ModelUnavailable(reason) from exc
    _broken = None
    _report_unavailable(None)
    return loaded


# The active version's batching classifier in this process; a newly activated version replaces it
# and the old batcher finishes what it holds and is closed.
_classifier = VersionedCache(
    version=lambda: active_model_version(), build=lambda v: _load_serving(v), on_replace=lambda old: old.close()
)


def active_classifier():
    """(ModelVersion, BatchingClassifier). One indexed query per call to notice a newly activated
    version. Raises ModelUnavailable when the active version cannot be loaded."""
    version = active_model_version()
    return version, _classifier.get_for(version)


def loaded_classifier():
    """The batching classifier this process holds now, if any (tests, health)."""
    return _classifier.peek()


def classify_photo(data: bytes):
    """(ModelVersion, ml.engine.Classification) for one photo's bytes; an unreadable photo comes
    back as a failure entry (error_code), not an exception."""
    for _ in range(3):
        version, batching = active_classifier()
        try:
            return version, batching.classify_one(data)
        except BatcherClosed:  # a model swap closed this batcher between lookup and submit
            continue
    raise RuntimeError("the model was swapped three times during one classification")


def reset() -> None:
    """Drop the loaded classifier (tests, shutdown)."""
    global _broken
    _classifier.clear()
    _broken = None


# -- worker start-up: pay the cold start before the first task ------------------------------------
def _consumes_inference(app) -> bool:
    try:
        queues = app.amqp.queues.consume_from or app.amqp.queues
        return INFERENCE_QUEUE in queues
    except Exception:  # noqa: BLE001 - an unconfigured app: warm up anyway
        return True


def warm_up() -> None:
    """Load the active model in this process and log what serves. A broken artifact (weights
    missing, checksum mismatch, labels != head) stops the worker with the reason (docs/reliability.md R27)."""
    if not settings.RANGEWATCH_INFERENCE_WARMUP:
        return
    close_old_connections()
    try:
        range_index_warm(log)  # every verdict needs it
        active_classifier()
    except NoActiveModel as exc:
        log.warning("inference warm-up skipped: %s", exc)
    except ArtifactError as exc:
        log.critical("inference worker refuses to start: the active model cannot serve: %s", exc)
        _report_unavailable(str(exc))
        raise WorkerShutdown(1) from exc
    finally:
        connection.close()  # task threads open their own connections


# -- heartbeat: which worker process holds a job, and is it still alive? --------------------------
# A process that runs classifications writes a key with a short TTL into the shared cache every
# few seconds; the observation records the process that claimed it (`worker_identity`). When the
# process dies (SIGKILL, OOM, a lost host) the key expires and the sweeper reclaims its jobs
# within HEARTBEAT_TTL_S plus one sweep, instead of waiting out the task's time limit (~220 s).
HEARTBEAT_EVERY_S = 5.0
HEARTBEAT_TTL_S = 15
_identity = ""  # "" outside a worker process that beats (web, eager tasks in tests)
_identity_lock = threading.Lock()


LAST_HEARTBEAT_KEY = "classifier:last-heartbeat"  # the time of any worker's latest beat (/healthz reads it)


def _heartbeat_key(identity: str) -> str:
    return f"classifier:worker-alive:{identity}"


def _beat(key: str) -> None:
    cache.set_many({key: 1}, timeout=HEARTBEAT_TTL_S)
    cache.set(LAST_HEARTBEAT_KEY, time.time(), timeout=None)


def last_heartbeat_age_s() -> float | None:
    """Seconds since any classifying worker last beat; None if none ever has (or the cache forgot)."""
    beat = cache.get(LAST_HEARTBEAT_KEY)
    return None if beat is None else max(0.0, time.time() - beat)


def worker_identity() -> str:
    """This process's name for the observations it claims ("host:pid"), or "" if it sends no heartbeat."""
    return _identity


def workers_alive(identities) -> set[str]:
    """The identities among `identities` whose heartbeat has not expired (one cache round trip)."""
    keys = {_heartbeat_key(i): i for i in identities}
    return {keys[k] for k in cache.get_many(list(keys))}


def heartbeat_start() -> str:
    """Beat from this process (a daemon thread, so it dies with the process and nothing else).
    Idempotent. Returns the identity."""
    global _identity
    with _identity_lock:
        if _identity:
            return _identity
        _identity = f"{socket.gethostname()}:{os.getpid()}"
    key = _heartbeat_key(_identity)

    def beat() -> None:
        while True:
            try:
                _beat(key)
                if (broken := _broken) is not None:  # still unable to serve: /healthz keeps saying so
                    _report_unavailable(broken[2])
            except Exception as exc:  # noqa: BLE001 - a cache outage must not end the beat; the next one retries
                log.warning("worker heartbeat not written: %s", exc)
            time.sleep(HEARTBEAT_EVERY_S)

    _beat(key)  # alive before the first task is claimed
    threading.Thread(target=beat, name="worker-heartbeat", daemon=True).start()
    log.info("worker heartbeat %s every %.0fs (ttl %ss)", _identity, HEARTBEAT_EVERY_S, HEARTBEAT_TTL_S)
    return _identity


# -- memory: give decoded photos back to the OS ---------------------------------------------------
_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
BIG_ALLOCATION_BYTES = 4 * 2**20


def release_big_buffers_to_the_os() -> bool:
    """Serve allocations over 4 MB from mmap, so they return to the OS when freed. Pillow holds a
    decoded photo in 16 MB blocks; glibc's adaptive threshold soon serves those from per-thread
    arenas that never shrink, so a thread-pool worker kept 2.6 GB after six 7000x7000 photos
    (358 MB with the threshold fixed; bench/photo_memory.py). False where the libc is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, BIG_ALLOCATION_BYTES))
    except (OSError, AttributeError):
        return False


@signals.worker_process_init.connect(weak=False)
def _warm_up_process(**kwargs) -> None:
    # prefork children and the solo pool; the thread pool sends worker_ready only.
    if _consumes_inference(current_app):
        release_big_buffers_to_the_os()
        heartbeat_start()
        warm_up()


@signals.worker_ready.connect(weak=False)
def _warm_up_ready(sender=None, **kwargs) -> None:
    pool = getattr(sender, "pool", None)
    if pool is None or type(pool).__module__ != "celery.concurrency.thread":
        return  # prefork children and solo warmed up in worker_process_init
    if _consumes_inference(sender.app):
        release_big_buffers_to_the_os()
        heartbeat_start()
        warm_up()
