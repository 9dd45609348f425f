"""The batch journal: what happened to each image of a batch, in SQLite beside the outputs.

Each upload is recorded before it is sent (`sending`) and after the server accepted it
(`accepted`, with the observation id), and the image again when its result is final (`done`) or
the server refused it for good (`rejected`). A re-run reads the journal: finished images are
skipped (a row is of a path and its content's SHA-256: a different file at an old path is a new
image, sent, and its row replaced), accepted ones are only waited for, and the rest are sent again with the same
Idempotency-Key (from the file's SHA-256), so an upload the server took just before the client
died still names one observation. Every write is one committed transaction (WAL mode, so a
SIGKILL loses nothing that was committed), and results stay on disk: memory does not grow with
the size of the batch.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

SENDING, ACCEPTED, DONE, REJECTED, UNSENT = "sending", "accepted", "done", "rejected", "unsent"
FINISHED = (DONE, REJECTED)  # a re-run leaves these alone

_SCHEMA = """
CREATE TABLE IF NOT EXISTS image (
    path TEXT PRIMARY KEY,              -- absolute path of the file
    filepath TEXT NOT NULL,             -- the path as found from the inputs; written to the outputs
    sha256 TEXT,
    deployment_id TEXT,
    latitude REAL,
    longitude REAL,
    location_source TEXT,               -- typed, deployment, exif or none
    observed_at TEXT,
    state TEXT NOT NULL,                -- sending, accepted, done, rejected, unsent
    uploads INTEGER NOT NULL DEFAULT 0, -- upload requests this client started for the image, all runs
    observation_id TEXT,
    result TEXT,                        -- the server's final answer, JSON
    error_code TEXT,
    error_detail TEXT,
    updated_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class ImageRecord:
    path: str
    filepath: str
    sha256: str | None
    deployment_id: str | None
    latitude: float | None
    longitude: float | None
    location_source: str | None
    observed_at: str | None
    state: str
    uploads: int
    observation_id: str | None
    result: dict | None
    error_code: str | None
    error_detail: str | None
    updated_at: str

    @property
    def idempotency_key(self) -> str:
        return idempotency_key(self.sha256)


def idempotency_key(sha256: str) -> str:
    """One key per image content: the same frame is one observation per account, whichever run,
    folder or journal sends it."""
    return f"sha256:{sha256}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class BatchJournal:
    """One SQLite file shared by the batch's threads; writes are serialised by a lock."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives the process being killed (not a power cut, and then
        # the resend carries the same key, so nothing is duplicated either way).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _write(self, sql: str, params: dict) -> None:
        with self._lock, self._db:
            self._db.execute(sql, {**params, "updated_at": _now()})

    @staticmethod
    def _record(row: sqlite3.Row) -> ImageRecord:
        values = dict(row)
        values["result"] = json.loads(values["result"]) if values["result"] else None
        return ImageRecord(**values)

    # -- reads ---------------------------------------------------------------------------------
    def get(self, path: str) -> ImageRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM image WHERE path = ?", (path,)).fetchone()
        return self._record(row) if row else None

    def records(self) -> Iterator[ImageRecord]:
        """Every image, in file path order, streamed from the database (for the outputs)."""
        reader = sqlite3.connect(self.path)  # its own connection: the cursor is read lazily
        reader.row_factory = sqlite3.Row
        try:
            for row in reader.execute("SELECT * FROM image ORDER BY filepath"):
                yield self._record(row)
        finally:
            reader.close()

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT state, COUNT(*) FROM image GROUP BY state").fetchall())

    # -- writes --------------------------------------------------------------------------------
    def mark_sending(
        self,
        *,
        path: str,
        filepath: str,
        sha256: str,
        deployment_id: str | None,
        latitude: float | None,
        longitude: float | None,
        location_source: str,
        observed_at: str | None,
    ) -> None:
        """Before the upload: what is about to be sent, and one more upload counted."""
        self._write(
            """INSERT INTO image (path, filepath, sha256, deployment_id, latitude, longitude, location_source,
                                  observed_at, state, uploads, updated_at)
               VALUES (:path, :filepath, :sha256, :deployment_id, :latitude, :longitude, :location_source,
                       :observed_at, 'sending', 1, :updated_at)
               ON CONFLICT (path) DO UPDATE SET
                   filepath = excluded.filepath, sha256 = excluded.sha256, deployment_id = excluded.deployment_id,
                   latitude = excluded.latitude, longitude = excluded.longitude,
                   location_source = excluded.location_source, observed_at = excluded.observed_at,
                   state = 'sending', uploads = image.uploads + 1, error_code = NULL, error_detail = NULL,
                   updated_at = excluded.updated_at""",
            dict(
                path=path,
                filepath=filepath,
                sha256=sha256,
                deployment_id=deployment_id,
                latitude=latitude,
                longitude=longitude,
                location_source=location_source,
                observed_at=observed_at,
            ),
        )

    def mark_accepted(self, path: str, observation_id: str) -> None:
        """After the upload: the server holds the observation; only its result is left to fetch."""
        self._write(
            "UPDATE image SET state = 'accepted', observation_id = :observation_id, updated_at = :updated_at "
            "WHERE path = :path",
            dict(path=path, observation_id=observation_id),
        )

    def mark_done(self, path: str, observation: dict) -> None:
        """The server's final answer (status done or failed), kept whole for the outputs."""
        self._write(
            "UPDATE image SET state = 'done', observation_id = :observation_id, result = :result, "
            "updated_at = :updated_at WHERE path = :path",
            dict(path=path, observation_id=observation["id"], result=json.dumps(observation)),
        )

    def mark_rejected(self, path: str, code: str, detail: str) -> None:
        """The server refused the upload for good (a 4xx other than 401/413 retries): not resent."""
        self._write(
            "UPDATE image SET state = 'rejected', error_code = :code, error_detail = :detail, "
            "updated_at = :updated_at WHERE path = :path",
            dict(path=path, code=code, detail=detail),
        )

    def mark_unsent(self, *, path: str, filepath: str, code: str, detail: str) -> None:
        """Not sent in this run (unreadable file, no deployment, server unavailable): tried again
        on the next run. An image already sent keeps its state: its upload may have arrived."""
        self._write(
            """INSERT INTO image (path, filepath, state, error_code, error_detail, updated_at)
               VALUES (:path, :filepath, 'unsent', :code, :detail, :updated_at)
               ON CONFLICT (path) DO UPDATE SET error_code = excluded.error_code,
                   error_detail = excluded.error_detail, updated_at = excluded.updated_at""",
            dict(path=path, filepath=filepath, code=code, detail=detail),
        )
