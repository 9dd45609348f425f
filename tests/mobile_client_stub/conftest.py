"""A live product (embedded default: SQLite, file broker, worker, gunicorn) shared by the CLI tests,
and helpers to run the CLI as the user would: a subprocess with its own config file."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import numpy as np
import piexif
import pytest
from PIL import Image

from mobile_client_stub.batch_results import CSV_COLUMNS, PREDICTIONS_JSON, RESULTS_CSV
from tests.conftest import shared_path
from tests.e2e.stack import REPO, running_stack


def gps_tagged_copy(
    src: Path, dst: Path, lat: float, lon: float, taken: str = "2024:05:01 07:30:00", offset: str = "-04:00"
) -> Path:
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
            piexif.GPSIFD.GPSLatitudeRef: b"N" if lat >= 0 else b"S",
            piexif.GPSIFD.GPSLatitude: dms(lat),
            piexif.GPSIFD.GPSLongitudeRef: b"E" if lon >= 0 else b"W",
            piexif.GPSIFD.GPSLongitude: dms(lon),
        },
    }
    piexif.insert(piexif.dump(exif), str(dst))
    return dst


SPECIESNET_SCHEMA = json.loads((Path(__file__).parent / "speciesnet_predictions.schema.json").read_text())


def make_card(folder: Path, count: int, *, seed: int = 0, size=(128, 96)) -> list[Path]:
    """`count` small distinct JPEGs (noise: every file a different SHA-256), as a camera card holds them."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        path = folder / f"RCNX{number:04d}.JPG"
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path, quality=80)
        paths.append(path)
    return paths


def read_batch_outputs(out_dir: Path) -> tuple[list[dict], list[dict]]:
    """results.csv rows and predictions.json entries, after checking both: the CSV's columns, the
    JSON against SpeciesNet's format, and that they describe the same images."""
    with (out_dir / RESULTS_CSV).open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == CSV_COLUMNS
        rows = list(reader)
    document = json.loads((out_dir / PREDICTIONS_JSON).read_text())
    jsonschema.validate(document, SPECIESNET_SCHEMA)
    predictions = document["predictions"]
    assert [p["filepath"] for p in predictions] == [r["filepath"] for r in rows]
    for entry in predictions:
        # SpeciesNet: a prediction exactly when nothing failed; classes and scores pair up, best first.
        assert ("prediction" in entry) != ("failures" in entry), entry
        if "classifications" in entry:
            scores = entry["classifications"]["scores"]
            assert len(scores) == len(entry["classifications"]["classes"]) and scores == sorted(scores, reverse=True)
    return rows, predictions


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory):
    shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")
    # The batch tests send a few hundred photos from one account in seconds. The per-person upload
    # throttle (60/minute) is not what they test (a project's own quota replaces it for camera-trap
    # batches; 429 + Retry-After handling is tested in test_api.py), so the stack lifts it.
    with running_stack(
        tmp_path_factory.mktemp("client-stack"),
        database_url=None,
        broker_url=None,
        extra_env={"RANGEWATCH_UPLOAD_RATE": "100000/minute"},
    ) as stack:
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
        out = subprocess.run(
            [sys.executable, "-m", "mobile_client_stub", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return CliRun(out.returncode, out.stdout, out.stderr)

    def python(self, code: str, timeout: float = 180) -> CliRun:
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        return CliRun(out.returncode, out.stdout, out.stderr)

    def start(self, *args: str) -> subprocess.Popen:
        """The CLI as a process the test can kill."""
        return subprocess.Popen(
            [sys.executable, "-m", "mobile_client_stub", *args],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def worker_stays_up(live_stack):
    """Fails the test with the worker's last words if the inference worker died during it, and starts
    a new one so that the tests after it still have a worker. (Seen under batch load: the embedded
    file-system broker can hand the worker a message file before its writer has filled it,
    kombu#1551, and the worker stops with "Unrecoverable error: JSONDecodeError".)"""
    yield
    if live_stack.worker.poll() is not None:
        critical = [line for line in (live_stack.logs / "worker.log").read_text().splitlines() if "CRITICAL" in line]
        live_stack.start_worker()
        pytest.fail(f"the inference worker died during this test: {critical[-1:] or 'see worker.log'}")


@pytest.fixture
def phone(live_stack, tmp_path):
    return Phone(live_stack, tmp_path / "phone", live_stack.token)


@pytest.fixture
def elephant():
    return shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")


@pytest.fixture
def scripted_server():
    """Answers each request with the next (status, headers, body) of `script`; records what it got and when."""
    state = {"script": [], "seen": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state["seen"].append(
                {"path": self.path, "headers": dict(self.headers), "body": body, "at": time.monotonic()}
            )
            status, headers, payload = state["script"].pop(0)
            data = json.dumps(payload).encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
