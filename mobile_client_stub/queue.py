"""The offline queue and the local config: plain files, written atomically, private to the user.

A queued capture is a folder holding the prepared photo and item.json. The Idempotency-Key is
chosen when the capture is queued and stored with it, so a sync interrupted after the server
accepted the upload (but before the item was removed) resends with the same key and gets the
same observation back: each capture becomes exactly one observation.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it: readers see the old
    file or the new one, never half of one; the file is created with `mode` (no umask window)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def default_config_path() -> Path:
    if os.environ.get("RANGEWATCH_CONFIG"):
        return Path(os.environ["RANGEWATCH_CONFIG"])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "rangewatch" / "config.json"


class Config:
    """{"server", "token", "expiry", "username"} in a 0600 JSON file."""

    def __init__(self, path: Path | None = None):
        self.path = path or default_config_path()
        try:
            self.data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            self.data = {}

    def get(self, key: str, default=None):
        return self.data.get(key, default)

    def save(self, **values) -> None:
        self.data.update({k: v for k, v in values.items()})
        self.data = {k: v for k, v in self.data.items() if v is not None}
        atomic_write(self.path, json.dumps(self.data, indent=2).encode())

    def forget_token(self) -> None:
        self.data.pop("token", None)
        self.data.pop("expiry", None)
        atomic_write(self.path, json.dumps(self.data, indent=2).encode())


@dataclass
class QueuedCapture:
    id: str
    idempotency_key: str
    filename: str
    source_path: str
    latitude: float | None
    longitude: float | None
    observed_at: str | None
    location_source: str  # "typed", "exif" or "none" (then the server reads nothing: we stripped EXIF)
    queued_at: str
    attempts: int = 0
    observation_id: str | None = None  # set once the server accepted it; kept for the record
    last_error: str | None = None


class OfflineQueue:
    ITEM = "item.json"
    PHOTO = "photo.jpg"

    def __init__(self, root: Path):
        self.root = Path(root)
        self.failed_dir = self.root / "failed"

    @classmethod
    def for_config(cls, config_path: Path) -> "OfflineQueue":
        return cls(
            Path(os.environ["RANGEWATCH_QUEUE_DIR"])
            if os.environ.get("RANGEWATCH_QUEUE_DIR")
            else config_path.parent / "queue"
        )

    def add(
        self,
        photo: bytes,
        *,
        filename: str,
        source_path: str,
        latitude,
        longitude,
        observed_at,
        location_source,
        idempotency_key: str | None = None,
    ) -> QueuedCapture:
        """Queue a capture. Pass the key of an upload that may already have reached the server."""
        now = datetime.now(timezone.utc)
        item = QueuedCapture(
            id=f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}",  # sorts in capture order
            idempotency_key=idempotency_key or str(uuid.uuid4()),
            filename=filename,
            source_path=source_path,
            latitude=latitude,
            longitude=longitude,
            observed_at=observed_at,
            location_source=location_source,
            queued_at=now.isoformat(),
        )
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Build the item in a hidden folder and rename it into place: a crash leaves no half item.
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".incoming-"))
        atomic_write(staging / self.PHOTO, photo)
        atomic_write(staging / self.ITEM, json.dumps(asdict(item), indent=2).encode())
        os.rename(staging, self.root / item.id)
        _fsync_dir(self.root)
        return item

    def items(self) -> list[QueuedCapture]:
        if not self.root.exists():
            return []
        found = []
        for folder in sorted(self.root.iterdir()):
            if folder.name.startswith(".") or folder == self.failed_dir or not (folder / self.ITEM).exists():
                continue
            found.append(QueuedCapture(**json.loads((folder / self.ITEM).read_text())))
        return found

    def photo(self, item: QueuedCapture) -> bytes:
        return (self.root / item.id / self.PHOTO).read_bytes()

    def update(self, item: QueuedCapture) -> None:
        atomic_write(self.root / item.id / self.ITEM, json.dumps(asdict(item), indent=2).encode())

    def remove(self, item: QueuedCapture) -> None:
        """Rename out of the queue first (atomic), then delete: a crash mid-delete never resends."""
        folder = self.root / item.id
        trash = self.root / f".done-{item.id}"
        os.rename(folder, trash)
        _fsync_dir(self.root)
        shutil.rmtree(trash, ignore_errors=True)

    def park_failed(self, item: QueuedCapture) -> Path:
        """A capture the server refused for good (corrupt, too large): keep it aside, stop resending."""
        self.failed_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = self.failed_dir / item.id
        os.rename(self.root / item.id, target)
        return target


class LocalHistory:
    """Ids of the observations this device sent, newest first: `history` works before the server's
    list endpoint exists, and after a token change shows what this phone reported."""

    LIMIT = 500

    def __init__(self, path: Path):
        self.path = Path(path)

    @classmethod
    def for_config(cls, config_path: Path) -> "LocalHistory":
        return cls(config_path.parent / "history.json")

    def ids(self) -> list[str]:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return []

    def record(self, observation_id: str) -> None:
        ids = [observation_id] + [i for i in self.ids() if i != observation_id]
        atomic_write(self.path, json.dumps(ids[: self.LIMIT]).encode())
