"""A live product (embedded default: SQLite, file broker, worker, gunicorn) shared by the CLI tests,
and helpers to run the CLI as the user would: a subprocess with its own config file."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import piexif
import pytest

from tests.conftest import shared_path
from tests.e2e.stack import REPO, running_stack


def gps_tagged_copy(src: Path, dst: Path, lat: float, lon: float, taken: str = "2024:05:01 07:30:00", offset: str = "-04:00") -> Path:
    """A copy of `src` whose EXIF carries only a GPS position and a capture time, as a phone writes them."""

    def dms(value: float):
        value = abs(value)
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        seconds = round(((value - degrees) * 60 - minutes) * 60 * 1000)
        return ((degrees, 1), (minutes, 1), (seconds, 1000))

    shutil.copy(src, dst)
    exif = {
        "0th": {piexif.ImageIFD.Make: b"RangeWatchTestPhone"},
        "Exif": {piexif.ExifIFD.DateTimeOriginal: taken.encode(), piexif.ExifIFD.OffsetTimeOriginal: offset.encode()},
        "GPS": {
            piexif.GPSIFD.GPSLatitudeRef: b"N" if lat >= 0 else b"S", piexif.GPSIFD.GPSLatitude: dms(lat),
            piexif.GPSIFD.GPSLongitudeRef: b"E" if lon >= 0 else b"W", piexif.GPSIFD.GPSLongitude: dms(lon),
        },
    }
    piexif.insert(piexif.dump(exif), str(dst))
    return dst


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory):
    shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")
    with running_stack(tmp_path_factory.mktemp("client-stack"), database_url=None, broker_url=None) as stack:
        yield stack


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


class Phone:
    """One device: its own config file and offline queue, talking to the live server."""

    def __init__(self, stack, home: Path, token: str | None):
        self.stack, self.home = stack, home
        self.env = {k: v for k, v in stack.env.items() if not k.startswith("RANGEWATCH_")}
        self.env.update(RANGEWATCH_CONFIG=str(home / "config.json"), RANGEWATCH_SERVER=stack.base_url)
        if token:
            self.env["RANGEWATCH_TOKEN"] = token

    def run(self, *args: str, timeout: float = 180) -> CliRun:
        out = subprocess.run([sys.executable, "-m", "mobile_client_stub", *args], cwd=REPO, env=self.env,
                             capture_output=True, text=True, timeout=timeout)
        return CliRun(out.returncode, out.stdout, out.stderr)

    def python(self, code: str, timeout: float = 180) -> CliRun:
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout)
        return CliRun(out.returncode, out.stdout, out.stderr)


@pytest.fixture
def phone(live_stack, tmp_path):
    return Phone(live_stack, tmp_path / "phone", live_stack.token)


@pytest.fixture
def elephant():
    return shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")
