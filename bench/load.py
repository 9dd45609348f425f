"""Load test: production-like processes on this machine, N simulated phones uploading real photos.

    python bench/load.py [--phones 32] [--seconds 60] [--ramp 5] [--think 1] [--originals] [--quick] [--no-hostile]
    python bench/load.py --mixed [--batch-photos 2000] [--batch-concurrency 4] [--phones 16] [--seconds 60]

Starts PostgreSQL-backed gunicorn (2 processes) and one Celery worker (thread pool, micro-batching,
niced as in scripts/run) on a private redis-server, then N phone threads, arriving over the ramp, upload camera-trap
photos from ../shared/data/photos for a fixed time (each phone: its own account and app token,
upload, wait for the verdict, next photo). Photos are prepared as the app prepares them
(mobile_client_stub.photos: 1600 px long side, JPEG 85, no EXIF); --originals sends the frames as
they are. Reports steady-state accepted uploads/s, verdicts/s and latency percentiles (uploads sent
after the ramp), how backlogged the worker was (sampled), error counts, the CPU each part of the
stack and the simulated phones spend per verdict, and checks that every accepted upload ended
exactly once. Then runs the worker pipeline alone (bench/inference.py's
pipeline) on the same photos for the ratio.

Then two hostile scenarios (issue 15), each for a third of --seconds (at least 10 s), with the same
phones going through nginx configured by deploy/nginx (the production front; skipped without
nginx), each phone from its own address: 32 clients that trickle their headers, and one user
holding 24 parallel `?wait` requests on a job of theirs that stays queued. Reports the honest
phones' upload-accept p95 (after the ramp, as above) and the slowest /healthz (probed every
0.25 s) during each, and the same phones through nginx with no attack, for comparison.
Then the "locked-out owner" check (issue 23, `locked_out_owner`): wrong passwords for one user's name
from one address, then that user's right password from another address, which must log in.
Then a map flood (issue 23, `map_flood_scenario`; --no-map-flood skips it): 8 anonymous clients
asking for maps with shuffled codes and varied tolerances while the same phones upload (through
nginx when installed, else straight to gunicorn); reports the phones' upload-accept p95, the
slowest /healthz and the web processes' RSS growth.
Last line: lost=<n> duplicated=<n> server_errors=<n> e2e_vs_pipeline=<n> accept_p95_ms=<n>
hostile_accept_p95_ms=<n> healthz_max_ms=<n> map_flood_accept_p95_ms=<n> map_flood_healthz_max_ms=<n>
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from backend.launcher import NGINX, PrivateRedis, nginx_front, reachable, running_stack  # noqa: E402
from bench.hostile_clients import SlowHeaderClients  # noqa: E402
from bench.inference import camera_trap_jpegs  # noqa: E402

BATCH, CONCURRENCY = 16, 16
BASELINE = "no attack, through nginx"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def pct(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class Phones:
    def __init__(
        self,
        stack,
        payloads,
        phones,
        seconds,
        think: float = 0.0,
        base_url: str | None = None,
        own_addresses: bool = False,
    ):
        self.stack, self.payloads, self.phones, self.seconds = stack, payloads, phones, seconds
        self.base_url = base_url or stack.base_url  # nginx's address in the hostile scenarios
        self.own_addresses = own_addresses  # each phone connects from its own 127.0.1.n, as phones have their own IPs
        self.think = think  # a person reads the answer before the next photo: uniform 0..think s
        self.lock = threading.Lock()
        self.accept_ms, self.e2e_ms, self.accepted, self.finished = [], [], {}, {}
        self.accept_at: list[float] = []  # when each accepted upload was sent (monotonic)
        self.e2e_at: list[float] = []
        self.codes: dict[int, int] = {}
        self.network_errors = 0
        self.tokens: list[str] = []

    def register(self) -> None:
        """Each phone is a person with an account: register through the API and keep the app
        token (knox) it returns, as the mobile client does. Before the clock starts."""
        from concurrent.futures import ThreadPoolExecutor

        def one(n):
            response = requests.post(
                f"{self.base_url}/api/v1/auth/register/",
                json={"username": f"phone{n}-{uuid.uuid4().hex[:6]}", "password": uuid.uuid4().hex},
                timeout=60,
                verify=False,
            )
            response.raise_for_status()
            return response.json()["token"]

        with ThreadPoolExecutor(8) as pool:
            self.tokens = list(pool.map(one, range(self.phones)))

    def count(self, code):
        with self.lock:
            self.codes[code] = self.codes.get(code, 0) + 1

    def phone(self, n, start_at, stop_at):
        time.sleep(max(0.0, start_at - time.monotonic()))  # phones arrive over the ramp, not all at once
        session = client_session(f"127.0.1.{n + 1}" if self.own_addresses else None)
        session.headers["Authorization"] = f"Token {self.tokens[n]}"
        rng = random.Random(n)
        i = n
        while time.monotonic() < stop_at:
            if i != n:
                time.sleep(rng.uniform(0, self.think))
            data = self.payloads[i % len(self.payloads)]
            i += self.phones
            key = uuid.uuid4().hex
            sent = time.monotonic()
            try:
                response = session.post(
                    f"{self.base_url}/api/v1/observations/",
                    headers={"Idempotency-Key": key},
                    files={"photo": ("photo.jpg", data, "image/jpeg")},
                    data={"latitude": -2.33, "longitude": 34.83},
                    timeout=30,
                )
            except requests.RequestException:
                with self.lock:
                    self.network_errors += 1
                continue
            self.count(response.status_code)
            if response.status_code != 202:
                continue
            with self.lock:
                self.accept_ms.append((time.monotonic() - sent) * 1000)
                self.accept_at.append(sent)
                self.accepted[response.json()["id"]] = key
            location = response.headers["Location"]
            while True:
                try:
                    asked = time.monotonic()
                    result = session.get(location, params={"wait": 10}, timeout=40)
                except requests.RequestException:
                    with self.lock:
                        self.network_errors += 1
                    break
                self.count(result.status_code)
                if result.status_code != 200 or result.json()["status"] in ("done", "failed"):
                    break
                if time.monotonic() - asked < 9:
                    # Answered without waiting (the server's bound): as the app does, obey Retry-After.
                    time.sleep(float(result.headers.get("Retry-After", 1)))
            if result.status_code == 200 and result.json()["status"] in ("done", "failed"):
                with self.lock:
                    self.e2e_ms.append((time.monotonic() - sent) * 1000)
                    self.e2e_at.append(sent)
                    self.finished[result.json()["id"]] = time.monotonic()

    def run(self, ramp: float):
        started = time.monotonic()
        stop_at = started + self.seconds
        threads = [
            threading.Thread(target=self.phone, args=(n, started + ramp * n / self.phones, stop_at))
            for n in range(self.phones)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return started


class BackgroundThreads:
    """Runs `_run` on `count` daemon threads from `with` to its end; `_stop` tells them to finish."""

    def __init__(self, count: int = 1):
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]

    def _run(self):
        raise NotImplementedError

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join()


class Backlog(BackgroundThreads):
    """Samples, every 0.25 s, how many jobs wait for the worker (status queued) and how many it is
    running (processing): a backlog most of the time means the worker is saturated."""

    def __init__(self, dsn: str):
        super().__init__()
        self.dsn, self.samples = dsn, []

    def _run(self):
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as db:
            while not self._stop.wait(0.25):
                self.samples.append(
                    db.execute(
                        "SELECT count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'processing') FROM observations_observation"
                    ).fetchone()
                )

    def summary(self) -> str:
        if not self.samples:
            return "no samples"
        queued = [q for q, _ in self.samples]
        running = [r for _, r in self.samples]
        backlogged = sum(1 for q in queued if q > 0) / len(queued)
        return f"queued mean {statistics.mean(queued):.1f} (max {max(queued)}), running mean {statistics.mean(running):.1f}; a backlog in {backlogged:.0%} of samples"


def check_exactly_once(db, accepted: dict, drain_seconds: float):
    """Every accepted upload final (done/failed), one row per key, at most one prediction."""
    deadline = time.monotonic() + drain_seconds
    ids = list(accepted)
    while True:
        rows = db.execute(
            "SELECT uuid::text, status FROM observations_observation WHERE uuid::text = ANY(%s)", (ids,)
        ).fetchall()
        pending = [u for u, s in rows if s not in ("done", "failed")]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(1)
    final = {u for u, s in rows if s in ("done", "failed")}
    lost = len(set(ids) - final)
    per_key = db.execute(
        "SELECT count(*) FROM (SELECT idempotency_key FROM observations_observation WHERE idempotency_key = ANY(%s) GROUP BY owner_id, idempotency_key HAVING count(*) > 1) d",
        (list(accepted.values()),),
    ).fetchone()[0]
    multi_predictions = db.execute(
        "SELECT count(*) FROM (SELECT observation_id FROM observations_prediction GROUP BY observation_id HAVING count(*) > 1) d"
    ).fetchone()[0]
    failed = sum(1 for _, s in rows if s == "failed")
    return lost, per_key + multi_predictions, failed


def job_ms(db, accepted: dict) -> list[float]:
    """Row saved -> verdict stored, by the database's own timestamps: the server-side part of
    upload-to-verdict (queue wait, decode, model, verdict), without the HTTP legs."""
    rows = db.execute(
        "SELECT extract(epoch FROM updated - created) * 1000 FROM observations_observation WHERE uuid::text = ANY(%s) AND status = 'done'",
        (list(accepted),),
    ).fetchall()
    return [float(ms) for (ms,) in rows]


class SourceAddressAdapter(HTTPAdapter):
    """Connects from a given local address (any 127.x.y.z reaches this machine's servers)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs, source_address=(self.address, 0))


def client_session(address: str | None = None) -> requests.Session:
    """A session that accepts nginx's self-signed certificate (trust_env off: a CA bundle named in
    the environment would override verify=False) and, given an address, connects from it."""
    session = requests.Session()
    session.verify, session.trust_env = False, False
    if address:
        session.mount("http://", SourceAddressAdapter(address))
        session.mount("https://", SourceAddressAdapter(address))
    return session


class HealthProbe(BackgroundThreads):
    """GET /healthz every 0.25 s from its own thread; the slowest answer (a timeout counts 30 s)."""

    def __init__(self, base_url: str):
        super().__init__()
        self.base_url, self.slowest_ms = base_url, 0.0
        self.session = client_session("127.0.0.9")

    def _run(self):
        while not self._stop.wait(0.25):
            sent = time.monotonic()
            try:
                self.session.get(f"{self.base_url}/healthz", timeout=30).raise_for_status()
                ms = (time.monotonic() - sent) * 1000
            except requests.RequestException:
                ms = 30_000.0
            self.slowest_ms = max(self.slowest_ms, ms)


class ParallelWaits(BackgroundThreads):
    """One user's 24 threads, each asking `?wait=10` on the same job of theirs and asking again as
    soon as it is answered, from one address (127.0.0.2). An answer that is not a wait (the server's
    bound, the proxy's 429) costs the client a pause of 0.1 s: it runs on another machine, and the
    pause keeps this process's own loop from taking the CPU the server is measured on."""

    def __init__(self, location: str, token: str, holds: int = 24):
        super().__init__(holds)
        self.location, self.token = location, token

    def _run(self):
        session = client_session("127.0.0.2")
        session.headers["Authorization"] = f"Token {self.token}"
        while not self._stop.is_set():
            asked = time.monotonic()
            try:
                session.get(self.location, params={"wait": 10}, timeout=40)
            except requests.RequestException:
                pass
            if time.monotonic() - asked < 5:
                time.sleep(0.1)


def hostile_scenarios(
    stack, dsn: str, payloads, tokens: list[str], seconds: float, think: float, ramp: float, workdir: Path
) -> dict:
    """{scenario: (honest upload-accept ms, slowest /healthz ms, responses, network errors)}: the
    phones, through nginx (deploy/nginx) in front of the stack, while each attack runs. As in the
    main run, the phones arrive over the ramp and only uploads sent after it are counted."""
    import psycopg
    import urllib3

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # nginx's self-signed certificate
    results = {}
    with nginx_front(stack.base_url.removeprefix("http://"), workdir / "nginx") as (https_url, _):
        attacker = Phones(stack, payloads, 1, 0, base_url=https_url)
        attacker.register()
        job = client_session().post(
            f"{https_url}/api/v1/observations/?wait=10",
            headers={"Authorization": f"Token {attacker.tokens[0]}"},
            files={"photo": ("a.jpg", payloads[0], "image/jpeg")},
            data={"latitude": -2.33, "longitude": 34.83},
            timeout=60,
        )
        job.raise_for_status()
        # A backlogged worker: the attacker's job stays queued for the whole scenario.
        with psycopg.connect(dsn, autocommit=True) as db:
            db.execute("UPDATE observations_observation SET status = 'queued' WHERE uuid = %s", (job.json()["id"],))
        https_port = int(https_url.rsplit(":", 1)[1])
        attacks = {
            BASELINE: contextlib.nullcontext,  # the same phones through nginx, no attack: what the proxy itself costs
            "32 slow-header clients": lambda: SlowHeaderClients(
                "127.0.0.1", https_port, count=32, tls=True, source="127.0.0.3"
            ),
            "one user, 24 parallel waits": lambda: ParallelWaits(job.headers["Location"], attacker.tokens[0]),
        }
        for name, attack in attacks.items():
            phones = Phones(stack, payloads, len(tokens), seconds, think=think, base_url=https_url, own_addresses=True)
            phones.tokens = tokens
            with attack(), HealthProbe(https_url) as probe:
                started = phones.run(ramp)
            steady = [ms for at, ms in zip(phones.accept_at, phones.accept_ms) if at >= started + ramp]
            results[name] = (steady, probe.slowest_ms, phones.codes, phones.network_errors)
    return results


def locked_out_owner(stack, workdir: Path, wrong_passwords: int = 30) -> dict:
    """Issue 23's "locked-out owner" check, through nginx (deploy/nginx): an attacker sends wrong
    passwords for the owner's user name (public in /feed/) from one address, paced under nginx's
    request rate; then the owner logs in with the right password from another address. The owner
    must get in (200): a per-account lock that anyone can trigger is a denial of service.
    {"attacker": Counter of statuses, "owner_status": int, "owner_ms": float}."""
    import urllib3

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    owner, password = f"owner-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    requests.post(
        f"{stack.base_url}/api/v1/auth/register/", json={"username": owner, "password": password}, timeout=60
    ).raise_for_status()
    with nginx_front(stack.base_url.removeprefix("http://"), workdir / "nginx-lockout") as (https_url, _):
        attacker, owner_phone = client_session("127.0.0.4"), client_session("127.0.0.5")
        statuses = Counter()
        for n in range(wrong_passwords):
            answer = attacker.post(
                f"{https_url}/api/v1/auth/login/", json={"username": owner, "password": f"guess-{n}"}, timeout=30
            )
            statuses[answer.status_code] += 1
            time.sleep(0.15)  # under nginx's 10 requests/s per address: the server decides, not the proxy
        started = time.monotonic()
        answer = owner_phone.post(
            f"{https_url}/api/v1/auth/login/", json={"username": owner, "password": password}, timeout=30
        )
        return {
            "attacker": statuses,
            "owner_status": answer.status_code,
            "owner_ms": 1000 * (time.monotonic() - started),
        }


# --- Map flood (issue 23): anonymous map requests while the phones upload ----------------------


class MapFlood(BackgroundThreads):
    """Anonymous clients asking for maps as fast as they are answered: 20 country codes in a fresh
    shuffled order and a random tolerance each time, species ranges (broad taxa included) at random
    tolerances; each thread from its own address (127.0.2.n). A 429 costs the client a pause of
    0.05 s (its loop would otherwise take the CPU the server is measured on)."""

    def __init__(self, base_url: str, codes: list[str], taxa: list[int], clients: int = 8):
        super().__init__(clients)
        self.base_url, self.codes, self.taxa = base_url, codes, taxa
        self.answers: dict[int, int] = {}
        self.lock = threading.Lock()
        self._next = iter(range(clients))

    def _run(self):
        with self.lock:
            n = next(self._next)
        session = client_session(f"127.0.2.{n + 1}")
        rng = random.Random(n)
        while not self._stop.is_set():
            simplify = f"{rng.uniform(0.0001, 1.0):.4f}"
            if self.taxa and rng.random() < 0.3:
                url = f"{self.base_url}/api/v1/species/{rng.choice(self.taxa)}/range/?simplify={simplify}"
            else:
                codes = rng.sample(self.codes, min(20, len(self.codes)))
                url = f"{self.base_url}/api/v1/regions/geojson/?codes={','.join(codes)}&simplify={simplify}"
            try:
                code = session.get(url, timeout=30).status_code
            except requests.RequestException:
                code = 0
            with self.lock:
                self.answers[code] = self.answers.get(code, 0) + 1
            if code == 429:
                time.sleep(0.05)


def web_rss_mb(stack) -> float:
    """Resident memory of the stack's web processes (gunicorn master and workers), MB."""
    table = _proc_table()
    port = stack.base_url.rsplit(":", 1)[1]
    roots = {pid for pid, (_, _, cmd, _) in table.items() if "gunicorn" in cmd and f":{port}" in cmd}
    pids = {pid for pid, (ppid, *_) in table.items() if pid in roots or ppid in roots}
    total_kb = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024


def map_flood_scenario(stack, dsn: str, payloads, tokens, seconds: float, think: float, ramp: float, workdir: Path):
    """The honest phones (own addresses) while MapFlood runs, through nginx when it is installed,
    else straight to gunicorn (the map throttle counts the client's address either way). Returns
    (steady upload-accept ms, slowest /healthz ms, web RSS growth MB, flood answers by status,
    phones' answers by status, phones' network errors)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as db:
        codes = [r[0] for r in db.execute("SELECT code FROM ranges_region WHERE kind = 'country' ORDER BY code")]
        taxa = [r[0] for r in db.execute("SELECT id FROM species_taxon ORDER BY id")]
    front = nginx_front(stack.base_url.removeprefix("http://"), workdir / "nginx-maps") if NGINX else None
    with front or contextlib.nullcontext((stack.base_url, None)) as (base_url, _):
        phones = Phones(stack, payloads, len(tokens), seconds, think=think, base_url=base_url, own_addresses=True)
        phones.tokens = tokens
        rss_before = web_rss_mb(stack)
        with MapFlood(base_url, codes, taxa) as flood, HealthProbe(base_url) as probe:
            started = phones.run(ramp)
        growth = web_rss_mb(stack) - rss_before
    steady = [ms for at, ms in zip(phones.accept_at, phones.accept_ms) if at >= started + ramp]
    return steady, probe.slowest_ms, growth, flood.answers, phones.codes, phones.network_errors


def pipeline_alone(artifact_dir: Path, payloads, seconds: float, backend: str) -> float:
    from bench.inference import bench_pipeline
    from ml.engine import Classifier

    clf = Classifier.load(artifact_dir, backend=backend, threads=2)
    rate, _ = bench_pipeline(clf, payloads, max_batch=BATCH, wait_ms=10.0, concurrency=CONCURRENCY, seconds=seconds)
    return rate


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phones", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--backend", default="onnxruntime", choices=["torch", "onnxruntime"])
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="each phone pauses uniform(0, THINK) s between a verdict and its next upload",
    )
    parser.add_argument(
        "--ramp", type=float, default=5, help="seconds over which the phones arrive (excluded from the figures)"
    )
    parser.add_argument(
        "--originals",
        action="store_true",
        help="upload the camera-trap originals as they are (default: as the app prepares them: 1600 px, JPEG 85, no EXIF)",
    )
    parser.add_argument("--quick", action="store_true", help="8 phones for 12 s")
    parser.add_argument("--no-hostile", action="store_true", help="skip the two hostile scenarios")
    parser.add_argument("--no-map-flood", action="store_true", help="skip the map flood scenario (issue 23)")
    parser.add_argument(
        "--mixed",
        action="store_true",
        help="issue 17: a camera-trap batch client plus the phones (default 16 phones, 2,000 frames)",
    )
    parser.add_argument("--batch-photos", type=int, default=2000, help="--mixed: frames the batch client sends")
    parser.add_argument(
        "--batch-concurrency", type=int, default=4, help="--mixed: the batch client's uploads in flight"
    )
    parser.add_argument(
        "--batch-window",
        type=int,
        default=64,
        help="--mixed: frames sent and not yet finished, at most (the client's --max-queued)",
    )
    args = parser.parse_args(argv)
    if args.mixed:
        if "--phones" not in (argv or sys.argv):
            args.phones = 16
        return mixed(args)
    if args.quick:
        args.phones, args.seconds, args.ramp = 8, 12, 2
    if not (reachable("127.0.0.1", 5432) and shutil.which("redis-server")):
        print("needs PostgreSQL on 127.0.0.1 and redis-server", file=sys.stderr)
        return 2
    import psycopg

    paths = camera_trap_jpegs()
    if args.originals:
        payloads = [p.read_bytes() for p in paths]
    else:  # what the app sends: prepared on the phone (mobile_client_stub.photos), before the clock
        from mobile_client_stub.photos import prepare_photo

        payloads = [prepare_photo(p).data for p in paths]
    photo_kb = sum(map(len, payloads)) / len(payloads) / 1024
    name = f"rangewatch_load_{uuid.uuid4().hex[:8]}"
    dsn = f"postgres://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    broker = PrivateRedis()
    env = {
        "RANGEWATCH_UPLOAD_RATE": "1000000/minute",
        "RANGEWATCH_INFERENCE_BACKEND": args.backend,
        "RANGEWATCH_TORCH_THREADS": "2",
        "RANGEWATCH_BATCH_SIZE": str(BATCH),
        "CACHE_URL": f"{broker.url}/1",
        "MAP_CACHE_URL": f"{broker.url}/2",  # compose gives maps a Redis of their own; one server here
        "LOG_LEVEL": "WARNING",
        # production-like: no debug query log, persistent database connections
        "DJANGO_DEBUG": "False",
        "DATABASE_CONN_MAX_AGE": "60",
        # About half the web threads may hold a ?wait (backend/settings/base.py).
        "RANGEWATCH_WAIT_HOLDS_PER_PROCESS": str(max(8, args.phones) // 2),
    }
    worker = ("-P", "threads", "--concurrency", str(CONCURRENCY), "-I", "classifier.inference")
    try:
        with tempfile.TemporaryDirectory() as tmp, broker:
            with running_stack(
                Path(tmp),
                database_url=dsn,
                broker_url=f"{broker.url}/0",
                extra_env=env,
                worker_args=worker,
                web_workers=2,
                web_threads=max(8, args.phones),
                worker_nice=10,  # as scripts/run: the web answers first, the classifier takes the rest
            ) as stack:
                # Warm the worker (model load) before the clock starts.
                stack.result(
                    stack.upload(paths[0], wait=10, latitude=-2.33, longitude=34.83).headers["Location"], wait=10
                )
                phones = Phones(stack, payloads, args.phones, args.seconds, think=args.think)
                phones.register()
                sessions_before = database_sessions(name)
                cpu_before = {**cpu_seconds_by_role(stack, broker.proc.pid), "phones": _own_cpu_seconds()}
                with Backlog(dsn) as backlog:
                    started = phones.run(args.ramp)
                cpu_after = {**cpu_seconds_by_role(stack, broker.proc.pid), "phones": _own_cpu_seconds()}
                sessions = database_sessions(name) - sessions_before
                ended = time.monotonic()
                with psycopg.connect(dsn, autocommit=True) as db:
                    lost, duplicated, failed = check_exactly_once(db, phones.accepted, drain_seconds=60)
                    jobs = job_ms(db, phones.accepted)
                hostile, lockout = {}, {}
                if NGINX and not args.no_hostile:
                    phase_s = max(10.0, args.seconds / 3)
                    hostile = hostile_scenarios(
                        stack, dsn, payloads, phones.tokens, phase_s, args.think, min(args.ramp, phase_s / 4), Path(tmp)
                    )
                    lockout = locked_out_owner(stack, Path(tmp))
                flood = None
                if not args.no_map_flood:
                    phase_s = max(10.0, args.seconds / 3)
                    flood = map_flood_scenario(
                        stack, dsn, payloads, phones.tokens, phase_s, args.think, min(args.ramp, phase_s / 4), Path(tmp)
                    )
                artifact = next((stack.var_dir / "models").iterdir())
            # The same worker pipeline alone, on the same photos, after the stack has stopped.
            pipeline = pipeline_alone(artifact, payloads, min(20.0, args.seconds), args.backend)
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # Steady state: what was sent after the ramp (every upload still counts for lost/duplicated).
    steady_from = started + min(args.ramp, args.seconds / 2)
    window = ended - steady_from
    accept_ms = [ms for at, ms in zip(phones.accept_at, phones.accept_ms) if at >= steady_from]
    e2e_ms = [ms for at, ms in zip(phones.e2e_at, phones.e2e_ms) if at >= steady_from]
    verdicts_per_s = sum(1 for t in phones.finished.values() if t >= steady_from) / window
    accepted_per_s = len(accept_ms) / window
    server_errors = sum(n for code, n in phones.codes.items() if code >= 500)
    finished_all = len(phones.finished)
    cpu_ms = {role: 1000 * (cpu_after[role] - cpu_before[role]) / max(finished_all, 1) for role in cpu_after}
    stack_ms = sum(ms for role, ms in cpu_ms.items() if role != "phones")
    cores = os.cpu_count() or 1
    pipeline_ms = 1000 * cores / pipeline if pipeline else float("nan")
    ratio = verdicts_per_s / pipeline if pipeline else float("nan")
    rows = [
        ("phones", f"{args.phones} (arriving over {args.ramp:.0f} s, pausing 0-{args.think:g} s between photos)"),
        ("steady window s", round(window, 1)),
        (
            "photos",
            f"{len(payloads)} camera-trap frames, {'originals' if args.originals else 'prepared as the app does'}, {photo_kb:.0f} KB on average",
        ),
        ("backend", args.backend),
        ("accepted uploads/s", round(accepted_per_s, 1)),
        ("verdicts/s (end to end)", round(verdicts_per_s, 1)),
        ("worker pipeline alone img/s", round(pipeline, 1)),
        ("e2e / pipeline", round(ratio, 2)),
        ("upload-accept p50/p95/p99 ms", "/".join(f"{pct(accept_ms, q):.0f}" for q in (50, 95, 99))),
        ("upload-to-verdict p50/p95/p99 ms", "/".join(f"{pct(e2e_ms, q):.0f}" for q in (50, 95, 99))),
        ("  of which row saved -> verdict stored", "/".join(f"{pct(jobs, q):.0f}" for q in (50, 95, 99))),
        ("worker backlog (sampled)", backlog.summary()),
        (
            "CPU ms per verdict",
            ", ".join(f"{role} {ms:.0f}" for role, ms in cpu_ms.items() if role != "phones")
            + f" = {stack_ms:.0f} (+ the simulated phones {cpu_ms['phones']:.0f})",
        ),
        ("CPU ms per image, pipeline alone", f"{pipeline_ms:.0f} ({cores} cores / its rate)"),
        (
            "worker CPU spent on decode + model",
            f"{pipeline_ms / max(cpu_ms['worker'], 1e-9):.2f} (pipeline CPU per image / worker CPU per verdict; the rest is Celery, Django, the verdict)",
        ),
        (
            "PostgreSQL sessions opened",
            f"{sessions} during the run ({sessions / max(finished_all, 1):.2f} per verdict: connections are kept)",
        ),
        ("responses by status", dict(sorted(phones.codes.items()))),
        ("network errors", phones.network_errors),
        ("failed jobs (typed)", failed),
        ("lost", lost),
        ("duplicated", duplicated),
    ]
    for name, (ms, slowest, codes, network_errors) in hostile.items():
        rows.append(
            (
                f"hostile: {name}",
                f"honest upload-accept p50/p95 {pct(ms, 50):.0f}/{pct(ms, 95):.0f} ms ({len(ms)} uploads, "
                f"responses {dict(sorted(codes.items()))}, network errors {network_errors}), "
                f"slowest /healthz {slowest:.0f} ms",
            )
        )
    if not hostile:
        rows.append(("hostile scenarios", "skipped (--no-hostile, or no nginx: apt-get install nginx-light)"))
    if lockout:
        rows.append(
            (
                "locked-out owner",
                f"attacker: wrong passwords for the owner's name from one address -> {dict(sorted(lockout['attacker'].items()))}; "
                f"the owner's right password from another address -> {lockout['owner_status']} in "
                f"{lockout['owner_ms']:.0f} ms ({'logs in' if lockout['owner_status'] == 200 else 'LOCKED OUT'})",
            )
        )
    flood_p95 = flood_healthz = float("nan")
    if flood is not None:
        flood_ms, flood_healthz, rss_growth, flood_answers, flood_codes, flood_errors = flood
        flood_p95 = pct(flood_ms, 95)
        rows.append(
            (
                "map flood (8 anonymous clients)",
                f"honest upload-accept p50/p95 {pct(flood_ms, 50):.0f}/{flood_p95:.0f} ms ({len(flood_ms)} uploads, "
                f"responses {dict(sorted(flood_codes.items()))}, network errors {flood_errors}), "
                f"slowest /healthz {flood_healthz:.0f} ms, web RSS growth {rss_growth:.0f} MB, "
                f"map answers {dict(sorted(flood_answers.items()))}",
            )
        )
    attacks = [result for name, result in hostile.items() if name != BASELINE]
    hostile_p95 = max((pct(ms, 95) for ms, *_ in attacks), default=float("nan"))
    healthz_max = max((slowest for _, slowest, *_ in attacks), default=float("nan"))
    width = max(len(k) for k, _ in rows)
    print(f"# {cores}-core machine: web, worker, PostgreSQL, Redis and the phones share the CPU;")
    print(
        f"# e2e / pipeline cannot exceed (pipeline CPU per image) / (stack + phones CPU per verdict) = {pipeline_ms / max(sum(cpu_ms.values()), 1):.2f} here"
    )
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print(
        f"lost={lost} duplicated={duplicated} server_errors={server_errors} "
        f"e2e_vs_pipeline={ratio:.2f} accept_p95_ms={pct(accept_ms, 95):.0f} "
        f"hostile_accept_p95_ms={hostile_p95:.0f} healthz_max_ms={healthz_max:.0f} "
        f"map_flood_accept_p95_ms={flood_p95:.0f} map_flood_healthz_max_ms={flood_healthz:.0f}"
    )
    return 0


def database_sessions(name: str) -> int:
    """Sessions PostgreSQL has opened on the database so far (pg_stat_database, PostgreSQL 14+)."""
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as db:
        row = db.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (name,)).fetchone()
    return int(row[0]) if row else 0


def _own_cpu_seconds() -> float:
    """CPU seconds of this process (the simulated phones: HTTP client threads)."""
    t = os.times()
    return t.user + t.system


def _proc_table() -> dict[int, tuple[int, str, str, float]]:
    """pid -> (ppid, name, command line, CPU seconds) for every process we may read."""
    hz = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        table[int(entry)] = (int(fields[1]), name, cmdline, (int(fields[11]) + int(fields[12])) / hz)
    return table


def cpu_seconds_by_role(stack, redis_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the stack's web (gunicorn on its port), worker (its process
    tree), PostgreSQL (all its processes: run this on an otherwise quiet machine) and this run's redis-server."""
    table = _proc_table()
    port = stack.base_url.rsplit(":", 1)[1]
    web_roots = {pid for pid, (_, _, cmd, _) in table.items() if "gunicorn" in cmd and f":{port}" in cmd}

    def in_tree(pid, roots):
        seen = set()
        while pid in table and pid not in seen:
            if pid in roots:
                return True
            seen.add(pid)
            pid = table[pid][0]
        return False

    out = {"web": 0.0, "worker": 0.0, "postgres": 0.0, "redis": 0.0}
    for pid, (_, name, _, seconds) in table.items():
        if in_tree(pid, web_roots):
            out["web"] += seconds
        elif in_tree(pid, {stack.worker.pid}):
            out["worker"] += seconds
        elif name.startswith("postgres"):
            out["postgres"] += seconds
        elif pid == redis_pid:  # this run's own redis-server
            out["redis"] += seconds
    return out


# --- Mixed scenario (issue 17): a camera-trap batch client and phones at the same time ------------


class BatchClient:
    """What `mobile_client_stub identify DIR` does against a project: `concurrency` senders
    upload `photos` frames (each with its own Idempotency-Key) to /projects/NAME/observations/,
    with at most `max_queued` frames sent and not yet finished (the client's window: the worker
    stays busy, the web is not flooded). The bench reads "finished" from the database instead
    of polling each result as the client does."""

    def __init__(self, stack, payloads, photos: int, concurrency: int, project: str, dsn: str, max_queued: int = 64):
        self.stack, self.payloads, self.photos, self.concurrency, self.project = (
            stack,
            payloads,
            photos,
            concurrency,
            project,
        )
        self.dsn, self.window, self.stop = dsn, threading.BoundedSemaphore(max_queued), threading.Event()
        self.lock, self.next, self.accept_ms, self.codes = threading.Lock(), 0, [], {}
        self.threads = [threading.Thread(target=self._sender, daemon=True) for _ in range(concurrency)]

    def _sender(self):
        session = requests.Session()
        session.headers["Authorization"] = f"Token {self.stack.token}"
        while True:
            with self.lock:
                n, self.next = self.next, self.next + 1
            if n >= self.photos:
                return
            self.window.acquire()
            sent = time.monotonic()
            try:
                response = session.post(
                    f"{self.stack.base_url}/api/v1/projects/{self.project}/observations/",
                    headers={"Idempotency-Key": f"batch-{n}"},
                    files={"photo": (f"frame{n:05d}.jpg", self.payloads[n % len(self.payloads)], "image/jpeg")},
                    data={"deployment": "cam-1", "latitude": 50.699, "longitude": 4.013},
                    timeout=60,
                )
                code = response.status_code
            except requests.RequestException:
                code = 0
            with self.lock:
                self.codes[code] = self.codes.get(code, 0) + 1
                if code == 202:
                    self.accept_ms.append((time.monotonic() - sent) * 1000)
            if code != 202:
                self.window.release()

    def _collector(self):
        """Frees a window slot for every batch frame that finished."""
        import psycopg

        released = 0
        with psycopg.connect(self.dsn, autocommit=True) as db:
            while not self.stop.wait(0.25):
                done = _batch_done_between(db, 0, time.time() + 3600)
                for _ in range(done - released):
                    self.window.release()
                released = done

    def start(self):
        threading.Thread(target=self._collector, daemon=True).start()
        for t in self.threads:
            t.start()


def _batch_done_between(db, start_epoch: float, end_epoch: float) -> int:
    """Batch frames (those linked to a project) that finished inside the window, by the database's clock."""
    return db.execute(
        "SELECT count(*) FROM observations_observation o JOIN cameratraps_media m ON m.observation_id = o.id "
        "WHERE o.status IN ('done', 'failed') AND o.updated >= to_timestamp(%s) AND o.updated < to_timestamp(%s)",
        (start_epoch, end_epoch),
    ).fetchone()[0]


def _phone_done_between(db, start_epoch: float, end_epoch: float) -> int:
    return db.execute(
        "SELECT count(*) FROM observations_observation o LEFT JOIN cameratraps_media m ON m.observation_id = o.id "
        "WHERE m.id IS NULL AND o.status IN ('done', 'failed') AND o.updated >= to_timestamp(%s) AND o.updated < to_timestamp(%s)",
        (start_epoch, end_epoch),
    ).fetchone()[0]


def mixed(args) -> int:
    """One batch client (--batch-photos frames, --batch-concurrency senders) and --phones phones:
    phase 1, batch and phones together for --seconds; phase 2, the rest of the batch alone. The
    batch's images/s with the phones is compared with what the worker leaves after them (the
    batch alone, phase 2, less the phones' verdicts/s); phone upload-accept p95 is read in phase 1."""
    if not reachable("127.0.0.1", 5432):
        print("needs PostgreSQL on 127.0.0.1 (and redis-server)", file=sys.stderr)
        return 2
    import psycopg

    from mobile_client_stub.photos import prepare_photo

    payloads = [prepare_photo(p).data for p in camera_trap_jpegs()]
    name = f"rangewatch_mixed_{uuid.uuid4().hex[:8]}"
    dsn = f"postgres://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    # A broker of its own: a shared Redis database number is flushed and drained by other stacks on this machine.
    broker = PrivateRedis()
    broker.start()
    redis_url = broker.url
    env = {
        "RANGEWATCH_UPLOAD_RATE": "1000000/minute",
        "RANGEWATCH_INFERENCE_BACKEND": args.backend,
        "RANGEWATCH_TORCH_THREADS": "2",
        "RANGEWATCH_BATCH_SIZE": str(BATCH),
        "CACHE_URL": f"{redis_url}/1",
        "LOG_LEVEL": "WARNING",
        "DJANGO_DEBUG": "False",
        "DATABASE_CONN_MAX_AGE": "60",
    }
    worker = ("-P", "threads", "--concurrency", str(CONCURRENCY), "-I", "classifier.inference")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            with running_stack(
                Path(tmp),
                database_url=dsn,
                broker_url=f"{redis_url}/0",
                extra_env=env,
                worker_args=worker,
                web_workers=2,
                web_threads=max(8, args.phones + args.batch_concurrency),
                worker_nice=10,
            ) as stack:
                stack.result(
                    stack.upload(camera_trap_jpegs()[0], wait=10, latitude=-2.33, longitude=34.83).headers["Location"],
                    wait=10,
                )
                requests.post(
                    f"{stack.base_url}/api/v1/projects/",
                    json={"name": "bench", "upload_quota_per_hour": 1_000_000},
                    headers={"Authorization": f"Token {stack.token}"},
                    timeout=30,
                ).raise_for_status()
                phones = Phones(stack, payloads, args.phones, args.seconds, think=args.think)
                phones.register()
                batch = BatchClient(
                    stack, payloads, args.batch_photos, args.batch_concurrency, "bench", dsn, args.batch_window
                )
                t0 = time.time()
                batch.start()
                cpu_marks = []  # (wall time, CPU seconds by role) at the phase boundaries
                threading.Timer(
                    args.ramp, lambda: cpu_marks.append((time.time(), cpu_seconds_by_role(stack, broker.proc.pid)))
                ).start()
                started = phones.run(args.ramp)  # phase 1: batch and phones together
                phase1_end = time.time()
                cpu_marks.append((phase1_end, cpu_seconds_by_role(stack, broker.proc.pid)))
                with psycopg.connect(dsn, autocommit=True) as db:
                    deadline = time.monotonic() + 900
                    while time.monotonic() < deadline:  # phase 2: the rest of the batch alone
                        left = db.execute(
                            "SELECT count(*) FROM observations_observation o JOIN cameratraps_media m ON m.observation_id = o.id "
                            "WHERE o.status IN ('queued', 'processing')"
                        ).fetchone()[0]
                        if (
                            left == 0
                            and batch.next >= args.batch_photos
                            and not any(t.is_alive() for t in batch.threads)
                        ):
                            break
                        time.sleep(1)
                    cpu_marks.append((time.time(), cpu_seconds_by_role(stack, broker.proc.pid)))
                    last = float(
                        db.execute(
                            "SELECT extract(epoch FROM max(o.updated)) FROM observations_observation o "
                            "JOIN cameratraps_media m ON m.observation_id = o.id"
                        ).fetchone()[0]
                    )
                    steady_from = t0 + args.ramp
                    phase2_from = phase1_end + 2  # the phones' last jobs drain first
                    batch_with_phones = _batch_done_between(db, steady_from, phase1_end) / (phase1_end - steady_from)
                    phones_rate = _phone_done_between(db, steady_from, phase1_end) / (phase1_end - steady_from)
                    batch_alone = _batch_done_between(db, phase2_from, last + 0.001) / max(last - phase2_from, 1e-9)
                    total_batch = _batch_done_between(db, t0 - 60, last + 1)
                    batch.stop.set()
                    lost, duplicated, failed = check_exactly_once(db, phones.accepted, drain_seconds=60)
                artifact = next((stack.var_dir / "models").iterdir())
            pipeline = pipeline_alone(artifact, payloads, 20.0, args.backend)
    finally:
        broker.stop()
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    accept_ms = [ms for at, ms in zip(phones.accept_at, phones.accept_ms) if at >= started + args.ramp]
    left_for_batch = batch_alone - phones_rate
    share = batch_with_phones / left_for_batch if left_for_batch > 0 else float("nan")
    # The cores each part got in each phase: on a shared 2-core machine the niced worker gets what
    # the web (phones' uploads and waits come first) and everyone else leave it.
    (a, cpu_a), (b, cpu_b), (c, cpu_c) = cpu_marks
    cores1 = {role: (cpu_b[role] - cpu_a[role]) / (b - a) for role in ("web", "worker")}
    cores2 = {role: (cpu_c[role] - cpu_b[role]) / (c - b) for role in ("web", "worker")}
    # Verdicts the worker could have made with the CPU it got in phase 1, at its phase-2 cost per
    # frame, less the phones': what it left for the batch, and the batch's share of that.
    worker_cpu_per_frame = cores2["worker"] / batch_alone if batch_alone else float("nan")
    left_by_worker_cpu = cores1["worker"] / worker_cpu_per_frame - phones_rate
    share_by_worker_cpu = batch_with_phones / left_by_worker_cpu if left_by_worker_cpu > 0 else float("nan")
    rows = [
        (
            "batch",
            f"{args.batch_photos} frames, {args.batch_concurrency} senders, at most {args.batch_window} unfinished, "
            "to a project (queue inference-batch)",
        ),
        ("phones", f"{args.phones} for {args.seconds:.0f} s (ramp {args.ramp:.0f} s, pausing 0-{args.think:g} s)"),
        (
            "batch frames finished",
            f"{total_batch} of {args.batch_photos}; uploads by status {dict(sorted(batch.codes.items()))}",
        ),
        (
            "phone upload-accept p50/p95/p99 ms (with the batch)",
            "/".join(f"{pct(accept_ms, q):.0f}" for q in (50, 95, 99)),
        ),
        ("batch upload-accept p50/p95 ms", "/".join(f"{pct(batch.accept_ms, q):.0f}" for q in (50, 95))),
        ("phone upload-to-verdict p50/p95 ms", "/".join(f"{pct(phones.e2e_ms, q):.0f}" for q in (50, 95))),
        ("phone verdicts/s (phase 1)", round(phones_rate, 1)),
        ("batch images/s with the phones (phase 1)", round(batch_with_phones, 1)),
        ("batch images/s alone (phase 2)", round(batch_alone, 1)),
        ("what the worker leaves after the phones", f"{left_for_batch:.1f} img/s (batch alone - phone verdicts/s)"),
        ("batch / what is left", round(share, 2)),
        (
            "cores used: worker, web (phase 1 / phase 2)",
            f"{cores1['worker']:.2f}, {cores1['web']:.2f} / {cores2['worker']:.2f}, {cores2['web']:.2f}",
        ),
        (
            "what the worker's phase-1 CPU leaves after the phones",
            f"{left_by_worker_cpu:.1f} img/s ({worker_cpu_per_frame * 1000:.0f} worker CPU-ms per frame)",
        ),
        ("batch / what the worker's CPU leaves", round(share_by_worker_cpu, 2)),
        ("worker pipeline alone img/s", round(pipeline, 1)),
        ("batch alone / pipeline alone", round(batch_alone / pipeline, 2) if pipeline else "n/a"),
        ("phones lost / duplicated / failed", f"{lost} / {duplicated} / {failed}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print(
        f"accept_p95_ms={pct(accept_ms, 95):.0f} batch_share_of_left={share:.2f} batch_share_of_worker_cpu_left={share_by_worker_cpu:.2f} "
        f"batch_alone_img_s={batch_alone:.1f} lost={lost} duplicated={duplicated}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
