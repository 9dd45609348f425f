"""One training run at a time per model directory: a lock file holding the owner's PID."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".train_classifier.lock"


class TrainingLocked(RuntimeError):
    """Another run holds the lock."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def training_lock(directory: str | os.PathLike):
    """Hold `directory/.train_classifier.lock` for the duration; a lock left by a dead process is taken over."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            try:
                pid = int(path.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pid = 0
            if pid and _alive(pid):
                raise TrainingLocked(
                    f"another training run (PID {pid}) holds {path}; wait for it to finish or, if it is gone, delete the file"
                ) from None
            path.unlink(missing_ok=True)  # stale: its process is gone
    else:
        raise TrainingLocked(f"could not take {path}")
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
        os.close(fd)
        yield path
    finally:
        path.unlink(missing_ok=True)
