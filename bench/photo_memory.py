"""Memory of the web and the inference worker when photos with small files and huge pixel counts
arrive (issue 15, High 5): six 7000x7000 PNGs of ~150 KB each, under the 50 MP ceiling.

    python bench/photo_memory.py [--photos 6] [--side 7000]

Starts the embedded stack (SQLite, file-system broker, gunicorn x1 with 4 threads, the thread-pool
inference worker) from this checkout, warms it with one ordinary photo, then uploads the PNGs, waits
for their verdicts and asks for each served photo once (the first /photo/ request). Prints the RSS
of the web process and of the worker before and after, and their peaks (VmHWM).
Last line: web_rss_mb_before=<n> web_rss_mb_after=<n> worker_rss_mb_before=<n> worker_rss_mb_after=<n> worker_peak_mb=<n>
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import requests
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from backend.launcher import running_stack  # noqa: E402


def big_flat_png(side: int, seed: int) -> bytes:
    """A photo-sized canvas that compresses to ~150 KB: flat colour with a few shapes."""
    image = Image.new("RGB", (side, side), (90 + seed * 20, 140, 60))
    draw = ImageDraw.Draw(image)
    for i in range(12):
        draw.ellipse(
            (i * side // 14, i * side // 20, i * side // 14 + side // 6, i * side // 20 + side // 8),
            fill=(200, 30 * i % 255, 40),
        )
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=False, compress_level=9)
    return buf.getvalue()


def ordinary_jpeg() -> bytes:
    """A phone-app-sized photo (1600x1200) that warms every code path first."""
    buf = io.BytesIO()
    image = Image.radial_gradient("L").resize((1600, 1200)).convert("RGB")
    image.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def web_workers(stack) -> list[int]:
    """The gunicorn worker processes (children of the master started by the stack)."""
    master = int(
        next(
            line.split("Listening")[0].split("[")[2].split("]")[0]
            for line in (stack.logs / "web.log").read_text().splitlines()
            if "Listening" in line
        )
    )
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == master:
                    children.append(int(entry.name))
            except OSError:
                continue
    return children


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=6)
    parser.add_argument("--side", type=int, default=7000)
    args = parser.parse_args()
    photos = [big_flat_png(args.side, i) for i in range(args.photos)]
    print(
        f"{args.photos} PNGs of {args.side}x{args.side}, {sum(map(len, photos)) / len(photos) / 1024:.0f} KB each on average"
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(
            Path(tmp),
            database_url=None,
            broker_url=None,
            web_server="gunicorn",  # measures gunicorn's worker
        ) as stack,
    ):
        auth = {"Authorization": f"Token {stack.token}"}
        warm = requests.post(
            f"{stack.base_url}/api/v1/observations/?wait=10",
            headers=auth,
            files={"photo": ("warm.jpg", ordinary_jpeg(), "image/jpeg")},
            data={"latitude": -2.33, "longitude": 34.83},
            timeout=60,
        )
        requests.get(f"{stack.base_url}/api/v1/observations/{warm.json()['id']}/photo/", headers=auth, timeout=60)
        web = web_workers(stack)
        before = {"web": max(memory_mb(pid)[0] for pid in web), "worker": memory_mb(stack.worker.pid)[0]}
        started = time.monotonic()
        ids = []
        for i, data in enumerate(photos):
            response = requests.post(
                f"{stack.base_url}/api/v1/observations/",
                headers=auth,
                files={"photo": (f"big{i}.png", data, "image/png")},
                data={"latitude": -2.33, "longitude": 34.83},
                timeout=60,
            )
            assert response.status_code in (200, 202), response.text
            ids.append(response.json()["id"])
        statuses = {}
        for observation_id in ids:
            body = requests.get(
                f"{stack.base_url}/api/v1/observations/{observation_id}/", params={"wait": 10}, headers=auth, timeout=60
            ).json()
            while body["status"] not in ("done", "failed"):
                body = requests.get(
                    f"{stack.base_url}/api/v1/observations/{observation_id}/",
                    params={"wait": 10},
                    headers=auth,
                    timeout=60,
                ).json()
            statuses[observation_id] = (
                body["status"] if body["status"] == "done" else f"failed/{body['failure']['code']}"
            )
        verdicts_s = time.monotonic() - started
        photo_codes = [
            requests.get(f"{stack.base_url}/api/v1/observations/{i}/photo/", headers=auth, timeout=120).status_code
            for i in ids
        ]
        after = {"web": max(memory_mb(pid)[0] for pid in web), "worker": memory_mb(stack.worker.pid)[0]}
        peaks = {"web": max(memory_mb(pid)[1] for pid in web), "worker": memory_mb(stack.worker.pid)[1]}
    print(f"outcomes: {sorted(statuses.values())}; /photo/ answers: {photo_codes}; all verdicts in {verdicts_s:.1f} s")
    print("| process | RSS before (MB) | RSS after (MB) | peak (MB) |\n| --- | --- | --- | --- |")
    for name in ("web", "worker"):
        print(f"| {name} | {before[name]:.0f} | {after[name]:.0f} | {peaks[name]:.0f} |")
    print(
        f"web_rss_mb_before={before['web']:.0f} web_rss_mb_after={after['web']:.0f} worker_rss_mb_before={before['worker']:.0f} "
        f"worker_rss_mb_after={after['worker']:.0f} worker_peak_mb={peaks['worker']:.0f}"
    )


if __name__ == "__main__":
    main()
