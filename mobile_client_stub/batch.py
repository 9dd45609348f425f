"""Batch identify: every image of a camera-trap card sent once, with bounded concurrency, resumable.

Sender threads (`concurrency`) prepare each image as the app does (downsized, EXIF stripped, the
place sent as fields) and upload it without waiting (202 Accepted). One collector thread
long-polls the results oldest first, so the batch holds one request open on the server, not one
per image. At most `max_queued` images are sent and unfinished at a time: the worker stays busy
without a whole card queued ahead of other people's photos. The journal (journal.py) records
each upload before and after it is sent, which makes an interrupted run resumable and, with the
Idempotency-Key taken from the file's SHA-256, never duplicates an observation.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from mobile_client_stub.api import FINAL_STATUSES, ApiError, NotAuthenticated, RangeWatchClient, Unavailable
from mobile_client_stub.batch_results import write_results
from mobile_client_stub.camera_traps import DeploymentTable, find_images
from mobile_client_stub.journal import ACCEPTED, FINISHED, BatchJournal, idempotency_key
from mobile_client_stub.photos import DEFAULT_LONG_SIDE, DEFAULT_QUALITY, PreparedPhoto, prepare_photo

JOURNAL_FILE = "journal.sqlite3"
THROTTLED_PAUSE = 5.0  # seconds, when a 429 names no Retry-After
_END = object()  # tells the collector that nothing more will be sent


@dataclass(frozen=True)
class BatchOptions:
    latitude: float | None = None  # typed coordinates for every image; else deployments, else EXIF GPS
    longitude: float | None = None
    deployments: DeploymentTable | None = None
    # A camera-trap project to send into (its quota, the batch queue); each image's deployment is
    # the CSV's, else its folder's name.
    project: str | None = None
    concurrency: int = 4  # uploads in flight
    max_queued: int = 64  # images sent and not yet finished
    wait: bool = True  # collect the results; without it a later run collects them
    stall_timeout: float = 120.0  # wait at most this long without any result; the rest stays for the next run
    long_side: int = DEFAULT_LONG_SIDE
    quality: int = DEFAULT_QUALITY


class ImageNotSent(Exception):
    """An image this run cannot send (unreadable, or nowhere to place it); tried again next run."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code, self.detail = code, detail


@dataclass(frozen=True)
class Place:
    """Where and when an image was taken, as it is sent with the upload."""

    latitude: float | None
    longitude: float | None
    source: str  # typed, deployment, exif or none
    deployment_id: str | None
    observed_at: str | None


@dataclass(frozen=True)
class PreparedImage:
    sha256: str
    photo: PreparedPhoto
    place: Place


def _file_sha256(image: Path) -> str | None:
    """The SHA-256 of the file's bytes (the Idempotency-Key's), None when it cannot be read now
    (then the send says why)."""
    try:
        with image.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


class BatchRun:
    """One run over the images; `tally` counts what this run did (sent, finished, not_sent...)."""

    def __init__(
        self, journal: BatchJournal, make_client: Callable[[], RangeWatchClient], options: BatchOptions, progress=None
    ):
        self.journal, self.make_client, self.options, self.progress = journal, make_client, options, progress
        self.tally: Counter = Counter()
        self.halted_by: ApiError | None = None  # NotAuthenticated or Unavailable: nothing else can go through
        self.stalled = False  # no result within stall_timeout: the rest stays accepted for the next run
        self._crash: BaseException | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._window = threading.BoundedSemaphore(options.max_queued)
        self._results: queue.Queue = queue.Queue()  # (path, observation, accepted at), oldest first
        self._local = threading.local()

    # -- the run -------------------------------------------------------------------------------
    def run(self, images: Iterable[Path]) -> None:
        collector = threading.Thread(target=self._collect, name="batch-collector", daemon=True)
        collector.start()
        senders = ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="batch-sender")
        try:
            for image in images:
                if not self._dispatch(image, senders):
                    break
        except BaseException:  # Ctrl-C included: stop sending, keep what is journaled
            self._stop.set()
            raise
        finally:
            senders.shutdown(wait=True, cancel_futures=self._stop.is_set())
            self._results.put(_END)
            collector.join()
        if self._crash is not None:
            raise self._crash

    def _dispatch(self, image: Path, senders: ThreadPoolExecutor) -> bool:
        """Skip a finished image, hand an accepted one to the collector, send the rest.
        False when the run is stopping."""
        record = self.journal.get(str(image.resolve()))
        if record is not None and record.sha256 and record.state in (*FINISHED, ACCEPTED):
            # A record is of a path AND its content: the next card copied over the same names
            # (RCNX0001.JPG) into the same --out is a new image, sent, and its row replaced
            # (issue 23: 0 sent, the old results shown).
            if _file_sha256(image) not in (None, record.sha256):
                record = None
        if record is not None and record.state in FINISHED:
            self._count("already_finished")
            return True
        while not self._window.acquire(timeout=0.5):
            if self._stop.is_set():
                return False
        if self._stop.is_set():
            return False
        if record is not None and record.state == ACCEPTED:
            self._results.put((record.path, {"id": record.observation_id, "status": "queued"}, time.monotonic()))
        else:
            senders.submit(self._send, image).add_done_callback(self._surface_crash)
        return True

    def _surface_crash(self, future: Future) -> None:
        # A bug in a sender must not pass silently inside a future: stop, and raise it from run().
        if not future.cancelled() and future.exception() is not None:
            self._crash = future.exception()
            self._stop.set()

    def _count(self, what: str) -> None:
        with self._lock:
            self.tally[what] += 1
        if self.progress is not None and what != "sent":
            self.progress.update(1)

    def _halt(self, error: ApiError) -> None:
        self.halted_by = self.halted_by or error
        self._stop.set()

    def _client(self) -> RangeWatchClient:
        if not hasattr(self._local, "client"):
            self._local.client = self.make_client()
        return self._local.client

    # -- senders -------------------------------------------------------------------------------
    def _send(self, image: Path) -> None:
        path, filepath = str(image.resolve()), str(image)
        try:
            prepared = self._prepare(image)
        except ImageNotSent as skip:
            self.journal.mark_unsent(path=path, filepath=filepath, code=skip.code, detail=skip.detail)
            self._window.release()
            self._count("not_sent")
            return
        if self._stop.is_set():  # halted while this image was being prepared
            self._window.release()
            return
        place = prepared.place
        self.journal.mark_sending(
            path=path,
            filepath=filepath,
            sha256=prepared.sha256,
            deployment_id=place.deployment_id,
            latitude=place.latitude,
            longitude=place.longitude,
            location_source=place.source,
            observed_at=place.observed_at,
        )
        try:
            observation = self._upload(prepared)
        except (NotAuthenticated, Unavailable) as exc:
            self.journal.mark_unsent(path=path, filepath=filepath, code=exc.code, detail=exc.detail)
            self._halt(exc)
            self._window.release()
            return
        except ApiError as exc:  # refused for good: corrupt, too large, unsupported, bad fields
            self.journal.mark_rejected(path, exc.code, exc.detail)
            self._window.release()
            self._count("rejected")
            return
        self.journal.mark_accepted(path, observation["id"])
        self._count("sent")
        if observation["status"] in FINAL_STATUSES or not self.options.wait:
            self._finish(path, observation)
        else:
            self._results.put((path, observation, time.monotonic()))

    def _upload(self, prepared: PreparedImage) -> dict:
        place = prepared.place
        while True:
            try:
                return self._client().upload(
                    prepared.photo.data,
                    prepared.photo.filename,
                    idempotency_key=idempotency_key(prepared.sha256),
                    latitude=place.latitude,
                    longitude=place.longitude,
                    observed_at=place.observed_at,
                    project=self.options.project,
                    deployment=place.deployment_id,
                )
            except Unavailable as exc:
                # Still throttled after the client's retries: a batch waits its turn, as long as the
                # server says, rather than giving up; any other outage stops the run.
                if exc.status != 429 or self._stop.wait(exc.retry_after or THROTTLED_PAUSE):
                    raise

    def _prepare(self, image: Path) -> PreparedImage:
        try:
            with image.open("rb") as fh:
                sha256 = hashlib.file_digest(fh, "sha256").hexdigest()  # of the file itself: re-encoding may vary
            photo = prepare_photo(image, long_side=self.options.long_side, quality=self.options.quality)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise ImageNotSent("unreadable", f"cannot read this image ({exc})") from None
        return PreparedImage(sha256, photo, self._place(image, photo))

    def _place(self, image: Path, photo: PreparedPhoto) -> Place:
        """The typed place, else the deployment's, else the photo's GPS; the time from Camtrap DP's
        media.csv, else from EXIF. Sent into a project, an image without a deployment in the CSV
        belongs to the deployment named by its folder (`cards/<deploymentID>/IMG_0001.JPG`)."""
        options = self.options
        taken = photo.meta.observed_at.isoformat() if photo.meta.observed_at else None
        folder = image.resolve().parent.name if options.project else None
        if options.latitude is not None:
            return Place(options.latitude, options.longitude, "typed", folder, taken)
        placement = options.deployments.locate(image) if options.deployments else None
        if placement is not None:
            deployment = placement.deployment
            return Place(
                deployment.latitude, deployment.longitude, "deployment", deployment.id, placement.timestamp or taken
            )
        if photo.meta.latitude is not None:
            return Place(photo.meta.latitude, photo.meta.longitude, "exif", folder, taken)
        if options.deployments is not None:
            raise ImageNotSent(
                "no_deployment", "no deployment in the CSV names this image or its folders, and it has no GPS"
            )
        # The server still names the animal; no verdict for a place. In a project, the folder's
        # deployment gives the place if the server knows it (else the frame is refused, saying so).
        return Place(None, None, "none", folder, taken)

    # -- collector -----------------------------------------------------------------------------
    def _collect(self) -> None:
        try:
            self._collect_results()
        except BaseException as exc:  # a bug here would leave the senders waiting on the window
            self._crash = exc
            self._stop.set()

    def _collect_results(self) -> None:
        """Oldest first. Each observation is waited for until `stall_timeout` has passed without
        any result (since the last one, or since it was accepted); past that it gets one look and
        stays accepted if unfinished, so one stuck job costs the wait once, not once per image."""
        last_result = time.monotonic()
        while (item := self._results.get()) is not _END:
            path, observation, accepted_at = item
            if self._stop.is_set():
                self._finish(path, observation)
                continue
            quiet_for = time.monotonic() - max(last_result, accepted_at)
            try:
                if quiet_for < self.options.stall_timeout:
                    observation = self._client().wait_for(observation, timeout=self.options.stall_timeout - quiet_for)
                else:
                    observation = self._client().observation(observation["id"])
            except (NotAuthenticated, Unavailable) as exc:
                self._halt(exc)
            except ApiError as exc:  # e.g. 404: the observation was deleted on the server
                self.journal.mark_rejected(path, exc.code, exc.detail)
                self._window.release()
                self._count("rejected")
                continue
            if observation["status"] in FINAL_STATUSES:
                last_result = time.monotonic()
            elif not self._stop.is_set():
                self.stalled = True
            self._finish(path, observation)

    def _finish(self, path: str, observation: dict) -> None:
        if observation["status"] in FINAL_STATUSES:
            self.journal.mark_done(path, observation)
            self._count("finished")
        else:
            self._count("waiting")  # accepted; the next run collects it
        self._window.release()


@dataclass(frozen=True)
class BatchReport:
    found: int  # images under the inputs
    tally: Counter  # what this run did: sent, finished, rejected, not_sent, waiting, already_finished
    results: Counter  # over the whole journal: "status:done", "verdict:native", ...
    halted_by: ApiError | None
    stalled: bool
    out_dir: Path

    @property
    def complete(self) -> bool:
        """Every image has its final answer (done, failed or rejected): nothing left to run."""
        unfinished = self.results["status:pending"] + self.results["status:not_sent"]
        return self.halted_by is None and not unfinished


def identify_batch(
    inputs: list[str], out_dir: Path, options: BatchOptions, make_client: Callable[[], RangeWatchClient]
) -> BatchReport:
    """Send every image under `inputs`, then write the result files from the whole journal (also
    when interrupted: what finished is written, and the same command resumes)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    found = sum(1 for _ in find_images(inputs))  # a cheap first pass: the progress bar's total
    journal = BatchJournal(out_dir / JOURNAL_FILE)
    try:
        with tqdm(total=found, unit="img", desc="identify", disable=None) as progress:
            run = BatchRun(journal, make_client, options, progress)
            try:
                run.run(find_images(inputs))
            finally:
                results = write_results(journal.records(), out_dir)
    finally:
        journal.close()
    return BatchReport(found, run.tally, results, run.halted_by, run.stalled, out_dir)
