"""Batch client benchmark: camera-trap cards sent by `python -m mobile_client_stub identify DIR` to a live
embedded stack on this machine (waitress, the thread-pool inference worker, SQLite, file broker).

    python bench/batch_client.py [--sizes 500,2000] [--real 200] [--concurrency 4]

For each card: wall time and images/s from the first upload to the last result collected, the
client's peak RSS and CPU per image, the journal's and the result files' size per image, that the
server holds exactly one observation per image, and a second run over the finished card (what a
resume costs when nothing is left to send). Cards of `--sizes` are small generated frames (the
client's own overhead; peak RSS should not grow with N); the `--real` card holds real camera-trap
frames from ../shared/data/photos, each copy made unique by a trailer after the JPEG end marker,
so the client downsizes 2-5 MP frames as it does in the field. The upload throttle is lifted
(RANGEWATCH_UPLOAD_RATE): a project's own quota replaces it for camera-trap batches.
Until the embedded broker writes its message files atomically, its worker can stop under this
load ("Unrecoverable error: JSONDecodeError", kombu#1551): the client then reports the results
still waiting and this script stops with the client's summary.
Last line: images=<n> images_per_s=<x> client_peak_rss_mb=<n> ... minutes_for_10000=<m>
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import requests
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from backend.launcher import running_stack  # noqa: E402
from bench.inference import camera_trap_jpegs  # noqa: E402

# Runs the CLI and reports its own peak RSS and CPU time on stderr's last line.
MEASURED_CLI = (
    "import json, resource, sys\n"
    "from mobile_client_stub.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "usage = resource.getrusage(resource.RUSAGE_SELF)\n"
    "print(json.dumps({'peak_rss_kb': usage.ru_maxrss, 'cpu_s': usage.ru_utime + usage.ru_stime}), file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def small_card(folder: Path, count: int) -> Path:
    rng = np.random.default_rng(count)
    folder.mkdir(parents=True)
    for number in range(count):
        Image.fromarray(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)).save(
            folder / f"IMG_{number:05d}.JPG", quality=80
        )
    return folder


def real_card(folder: Path, count: int) -> Path:
    frames = [p.read_bytes() for p in camera_trap_jpegs()]
    folder.mkdir(parents=True)
    for number in range(count):
        # Bytes after the end-of-image marker: decoders ignore them; the file's SHA-256 is new.
        (folder / f"IMG_{number:05d}.JPG").write_bytes(frames[number % len(frames)] + f"copy {number}".encode())
    return folder


def register(stack) -> str:
    answer = requests.post(
        f"{stack.base_url}/api/v1/auth/register/",
        timeout=30,
        json={"username": f"bench{uuid.uuid4().hex[:10]}", "password": "bench pass phrase 42"},
    )
    answer.raise_for_status()
    return answer.json()["token"]


def observations_on_server(stack, token: str) -> int:
    return requests.get(
        f"{stack.base_url}/api/v1/observations/",
        params={"limit": 1},
        timeout=30,
        headers={"Authorization": f"Token {token}"},
    ).json()["count"]


def run_client(stack, token: str, card: Path, out: Path, concurrency: int) -> dict:
    env = {
        **stack.env,
        "RANGEWATCH_SERVER": stack.base_url,
        "RANGEWATCH_TOKEN": token,
        "RANGEWATCH_CONFIG": str(out.parent / "client-config.json"),
    }
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            MEASURED_CLI,
            "identify",
            str(card),
            "--lat",
            "-2.33",
            "--lon",
            "34.83",
            "--out",
            str(out),
            "--concurrency",
            str(concurrency),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"client failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    return {"seconds": seconds, **json.loads(done.stderr.strip().splitlines()[-1]), "summary": done.stdout}


def measure(stack, label: str, card: Path, count: int, work: Path, concurrency: int) -> dict:
    token = register(stack)
    out = work / f"out-{label}"
    first = run_client(stack, token, card, out, concurrency)
    resume = run_client(stack, token, card, out, concurrency)  # nothing left: skip every image
    on_server = observations_on_server(stack, token)
    return {
        "card": label,
        "images": count,
        "seconds": first["seconds"],
        "images_per_s": count / first["seconds"],
        "client_cpu_ms_per_image": 1000 * first["cpu_s"] / count,
        "client_peak_rss_mb": first["peak_rss_kb"] / 1024,
        "journal_kb_per_image": sum(f.stat().st_size for f in out.glob("journal.sqlite3*")) / 1024 / count,
        "outputs_kb_per_image": sum((out / f).stat().st_size for f in ("results.csv", "predictions.json"))
        / 1024
        / count,
        "resume_seconds": resume["seconds"],
        "observations_on_server": on_server,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="500,2000", help="small generated cards, comma-separated sizes")
    parser.add_argument("--real", type=int, default=200, help="a card of this many real camera-trap frames (0: none)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--keep", metavar="DIR", help="work here and keep the cards, results and stack logs")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        cards = [(f"small-{n}", small_card(work / f"small-{n}", n), n) for n in sizes]
        if args.real:
            cards.append((f"real-{args.real}", real_card(work / f"real-{args.real}", args.real), args.real))
        with running_stack(
            work / "stack",
            database_url=None,
            broker_url=None,
            extra_env={"RANGEWATCH_UPLOAD_RATE": "1000000/minute", "LOG_LEVEL": "WARNING"},
            web_threads=8,
        ) as stack:
            results = [measure(stack, label, card, count, work, args.concurrency) for label, card, count in cards]
    columns = list(results[0])
    print("# embedded stack (waitress 8 threads, one thread-pool inference worker, SQLite, file broker) and the")
    print(f"# client share this machine's CPUs; client --concurrency {args.concurrency}, default --max-queued 64")
    print(" | ".join(columns))
    for row in results:
        print(" | ".join(f"{row[c]:.2f}" if isinstance(row[c], float) else str(row[c]) for c in columns))
    slowest = min(results, key=lambda r: r["images_per_s"])
    duplicates = sum(r["observations_on_server"] - r["images"] for r in results)
    print(
        f"images={sum(r['images'] for r in results)} duplicated={duplicates} "
        f"images_per_s={slowest['images_per_s']:.1f} ({slowest['card']}) "
        f"client_peak_rss_mb={max(r['client_peak_rss_mb'] for r in results):.0f} "
        f"minutes_for_10000={10000 / slowest['images_per_s'] / 60:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
