"""How RangeWatch's processes are started: the web server, the inference worker, the default
worker and beat. Their command lines are written here once and used by scripts/run, docker-compose.yml,
the end-to-end tests (tests/e2e/stack.py) and the benchmarks (bench/).

    python -m backend.launcher inference-worker [--concurrency N]   # replaces itself with the process
    python -m backend.launcher default-worker [--beat SCHEDULE_FILE]
    python -m backend.launcher beat [--schedule SCHEDULE_FILE]
    python -m backend.launcher web --listen 127.0.0.1:8000 [--threads 8]            # waitress
    python -m backend.launcher gunicorn --bind 0.0.0.0:8000 [--workers 4 --threads 8]
    python -m backend.launcher --print inference-worker    # print the command (one argument a line)

Plain Python: no Django is set up here (the processes do that), so a benchmark or a shell script
can build the commands cheaply. Below the command lines: `running_stack`, the whole product as local
processes (migrate, bootstrap, the workers, the web server) for the end-to-end tests and the
benchmarks, a private redis-server, and nginx configured by deploy/nginx in front of a server.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from core.jobs import BATCH_QUEUE, DEFAULT_QUEUE, EXPORTS_QUEUE, INFERENCE_QUEUE

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the virtual environment's celery and gunicorn
# The inference worker: one process whose task threads decode in parallel and share one
# micro-batched forward pass (ml.engine.BatchingClassifier); -I loads the warm-up and heartbeat
# hooks (classifier.inference). 16 threads on a CPU host; docker-compose's GPU worker runs 64.
INFERENCE_POOL = ("-P", "threads")
INFERENCE_CONCURRENCY = 16
INFERENCE_IMPORTS = ("-I", "classifier.inference")
INFERENCE_QUEUES = (INFERENCE_QUEUE, BATCH_QUEUE)
INFERENCE_WORKER_ARGS = (*INFERENCE_POOL, "--concurrency", str(INFERENCE_CONCURRENCY), *INFERENCE_IMPORTS)


def celery(*args: str) -> list[str]:
    return [str(BIN / "celery"), "-A", "backend", *args]


def inference_worker(
    *,
    concurrency: int = INFERENCE_CONCURRENCY,
    queues=INFERENCE_QUEUES,
    worker_args: tuple[str, ...] | None = None,
    name: str | None = "inference@%h",
) -> list[str]:
    """The inference worker. `worker_args` replace the pool and concurrency (a fault drill that needs
    a child process to lose runs ("-P", "prefork", "-c", "1")); the imports stay, so that every
    inference worker loads the warm-up and heartbeat hooks whatever its pool."""
    pool = worker_args if worker_args is not None else (*INFERENCE_POOL, "--concurrency", str(concurrency))
    named = ("-n", name) if name else ()
    return celery("worker", *named, "-Q", ",".join(queues), *_with_inference_imports(pool), "--loglevel", "INFO")


def _with_inference_imports(args: tuple[str, ...]) -> list[str]:
    """`args` importing classifier.inference too. Celery keeps only the last -I/--include, so a
    module the arguments import already is joined to it (a comma-separated list), not given twice."""
    module = INFERENCE_IMPORTS[1]
    out = list(args)
    for i, arg in enumerate(out[:-1]):
        if arg in ("-I", "--include"):
            named = out[i + 1].split(",")
            out[i + 1] = ",".join(named if module in named else [module, *named])
            return out
    return [*out, *INFERENCE_IMPORTS]


def default_worker(*, concurrency: int | None = None, beat_schedule: str | None = None) -> list[str]:
    """The worker for everything else (alerts, exports, the sweeper). Without a concurrency it is
    one solo process (the embedded default), with `beat_schedule` it runs beat inside too."""
    pool = ("--concurrency", str(concurrency)) if concurrency else ("-P", "solo")
    beat = ("--beat", "-s", beat_schedule) if beat_schedule else ()
    return celery("worker", "-n", "default@%h", "-Q", DEFAULT_QUEUE, *pool, *beat, "--loglevel", "INFO")


def exports_worker() -> list[str]:
    """Darwin Core Archive exports: their own queue and solo process, so an alert's e-mails on the
    default queue never wait behind an archive (issue 23)."""
    return celery("worker", "-n", "exports@%h", "-Q", EXPORTS_QUEUE, "-P", "solo", "--loglevel", "INFO")


def beat_command(*, schedule: str) -> list[str]:
    return celery("beat", "-s", schedule, "--loglevel", "INFO")


def web(*, listen: str, threads: int = 8) -> list[str]:
    """The embedded default's web server: waitress (backend.serve), slow clients hold no thread."""
    return [sys.executable, "-m", "backend.serve", "--listen", listen, "--threads", str(threads)]


def gunicorn(*, bind: str, workers: int = 1, threads: int = 8, timeout: int | None = None) -> list[str]:
    """Production's web server, behind nginx (docker-compose.yml); gunicorn.conf.py warms each process."""
    extra = ("--timeout", str(timeout)) if timeout else ()
    return [
        str(BIN / "gunicorn"),
        "backend.wsgi",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        *extra,
    ]


# -- the product as local processes (end-to-end tests, benchmarks) --------------------------------
def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of the caller's own on a free port (tests take it down and bring it back empty;
    benchmarks use it so that no other stack on this machine takes or flushes their jobs)."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not reachable("127.0.0.1", self.port):
            assert time.monotonic() < deadline, "redis did not start"
            time.sleep(0.05)

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


class Stack:
    """A running local stack: its URL, the demo token, and the worker, which drills stop and restart."""

    def __init__(self, env: dict, base_url: str, token: str, var_dir: Path):
        self.env, self.base_url, self.token, self.var_dir = env, base_url, token, var_dir
        self.logs = var_dir.parent / "logs"
        self.worker: subprocess.Popen | None = None
        self.worker_args: list[str] = list(INFERENCE_WORKER_ARGS)
        self.worker_nice = 0

    def start_worker(self) -> subprocess.Popen:
        # One worker for every queue: the inference worker's command, taking the default queue too.
        command = inference_worker(
            queues=(*INFERENCE_QUEUES, DEFAULT_QUEUE, EXPORTS_QUEUE), worker_args=tuple(self.worker_args), name=None
        )
        self.worker = subprocess.Popen(
            [*(["nice", "-n", str(self.worker_nice)] if self.worker_nice else []), *command],
            cwd=REPO,
            env=self.env,
            stdout=open(self.logs / "worker.log", "a"),
            stderr=subprocess.STDOUT,
        )
        return self.worker

    def stop_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.terminate()
            try:
                self.worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait()

    def manage(self, *args: str, timeout: int = 300) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    def upload(self, photo: Path, wait: float = 10, **fields):
        with open(photo, "rb") as fh:
            return requests.post(
                f"{self.base_url}/api/v1/observations/?wait={wait}",
                headers={"Authorization": f"Token {self.token}"},
                files={"photo": (photo.name, fh, "image/jpeg")},
                data=fields,
                timeout=wait + 30,
            )

    def result(self, location: str, wait: float = 10) -> dict:
        return requests.get(
            location, params={"wait": wait}, headers={"Authorization": f"Token {self.token}"}, timeout=wait + 30
        ).json()

    def get(self, path: str, **params):
        return requests.get(f"{self.base_url}{path}", params=params, timeout=30)


@contextmanager
def running_stack(
    tmp_path: Path,
    *,
    database_url: str | None,
    broker_url: str | None,
    bootstrap_args=("--skip-counties",),
    extra_env: dict | None = None,
    worker_args=INFERENCE_WORKER_ARGS,
    web_workers: int = 1,
    web_threads: int = 4,
    beat: bool = False,
    worker_nice: int = 0,
    web_server: str | None = None,
):
    """The product on this machine, started as scripts/run starts it: migrate, bootstrap, one worker
    for every queue (INFERENCE_WORKER_ARGS unless a drill gives others) and the web server:
    waitress, the embedded default, or gunicorn (production's) when asked or when several web
    processes are (waitress is one process). `database_url`/`broker_url` None: SQLite and the
    file-system broker."""
    web_server = web_server or ("gunicorn" if web_workers > 1 else "waitress")
    var_dir = tmp_path / "var"
    stack = Stack(_stack_env(var_dir, database_url, broker_url, extra_env), "", "", var_dir)
    stack.worker_args = list(worker_args)
    stack.worker_nice = worker_nice
    stack.logs.mkdir(parents=True, exist_ok=True)
    stack.manage("migrate", "--no-input", "-v0")
    out = stack.manage("bootstrap", *bootstrap_args)
    stack.token = out.split("API token: ")[1].split()[0]
    port = free_port()
    stack.base_url = f"http://127.0.0.1:{port}"
    stack.start_worker()
    listen = f"127.0.0.1:{port}"
    server = (
        gunicorn(bind=listen, workers=web_workers, threads=web_threads)
        if web_server == "gunicorn"
        else web(listen=listen, threads=web_threads)
    )
    others = [_start(server, stack.env, stack.logs / "web.log")]
    if beat:
        others.append(_start(beat_command(schedule=str(var_dir / "beat-schedule")), stack.env, stack.logs / "beat.log"))
    try:
        _wait_healthy(stack, others[0])
        yield stack
    finally:
        stack.stop_worker()
        for proc in others:
            proc.terminate()
        for proc in others:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _stack_env(var_dir: Path, database_url: str | None, broker_url: str | None, extra_env: dict | None) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings.local",
        "RANGEWATCH_VAR_DIR": str(var_dir),
        "PYTHONUNBUFFERED": "1",
        # Every simulated person comes from 127.0.0.1: the per-address password throttles would
        # count them as one (core.throttling); the per-account one stays as in production.
        "RANGEWATCH_REGISTER_ADDRESS_RATE": "100000/hour",
        "RANGEWATCH_LOGIN_ADDRESS_RATE": "100000/minute",
        **(extra_env or {}),
    }
    env.pop("TEST_DATABASE_URL", None)
    for key, value in (("DATABASE_URL", database_url), ("CELERY_BROKER_URL", broker_url)):
        if value:
            env[key] = value
        else:
            env.pop(key, None)
    return env


def _start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)


# How long a server process may take to start: it builds its range index first (a minute with every
# county on a busy machine). A prefork inference child does the same before it reports up
# (CELERY_WORKER_PROC_ALIVE_TIMEOUT is at least this).
WARM_UP_S = 180


def _wait_healthy(stack: Stack, server: subprocess.Popen, timeout: float = WARM_UP_S) -> None:
    """Until /healthz answers. The server builds its range index before it listens (a minute with
    every county on a busy machine): a live server is given `timeout`, a dead one fails at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if requests.get(f"{stack.base_url}/healthz", timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.3)
    state = "stopped" if server.poll() is not None else f"not answering after {timeout:.0f} s"
    raise AssertionError(f"web {state}: " + (stack.logs / "web.log").read_text()[-2000:])


# -- the production front: nginx configured by deploy/nginx ------------------------------------------
NGINX_TEMPLATE = REPO / "deploy" / "nginx" / "rangewatch.conf.template"
NGINX_MAIN = REPO / "deploy" / "nginx" / "nginx.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def render_nginx_site(values: dict[str, str]) -> str:
    """deploy/nginx's template with ${RANGEWATCH_*} filled in, as the nginx image's envsubst does."""
    text = NGINX_TEMPLATE.read_text()
    return re.sub(r"\$\{(RANGEWATCH_[A-Z_]+)\}", lambda m: values[m.group(1)], text)


def render_nginx_main(workdir: Path, temp_paths: str) -> str:
    """deploy/nginx/nginx.conf as this machine runs it: in the foreground, as the current user,
    with its files under `workdir` and the site rendered into workdir/site.conf."""
    text = NGINX_MAIN.read_text()
    text = re.sub(r"^user .*;\n", "", text, flags=re.M)
    text = text.replace("pid /var/run/nginx.pid;", f"daemon off;\npid {workdir / 'nginx.pid'};")
    text = text.replace("/var/log/nginx/error.log", str(workdir / "error.log"))
    text = text.replace("access_log /var/log/nginx/access.log;", "access_log off;\n" + temp_paths)
    text = text.replace("include /etc/nginx/mime.types;", "")
    return text.replace("include /etc/nginx/conf.d/*.conf;", f"include {workdir / 'site.conf'};")


@contextmanager
def nginx_front(upstream: str, workdir: Path):
    """nginx on two free ports (http, https with a self-signed certificate) in front of `upstream`
    (host:port), configured by deploy/nginx. Yields the https base URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    http_port, https_port = free_port(), free_port()
    (workdir / "site.conf").write_text(
        render_nginx_site(
            {
                "RANGEWATCH_UPSTREAM": upstream,
                "RANGEWATCH_HTTP_PORT": f"127.0.0.1:{http_port}",
                "RANGEWATCH_HTTPS_PORT": f"127.0.0.1:{https_port}",
                "RANGEWATCH_TLS_CERT": str(cert),
                "RANGEWATCH_TLS_KEY": str(key),
            }
        )
    )
    temp = "".join(
        f"{kind}_temp_path {workdir / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (workdir / "nginx.conf").write_text(render_nginx_main(workdir, temp))
    proc = subprocess.Popen(
        [NGINX, "-c", str(workdir / "nginx.conf"), "-p", str(workdir)],
        stderr=subprocess.STDOUT,
        stdout=open(workdir / "stdout.log", "w"),
    )
    try:
        deadline = time.monotonic() + 10
        while not reachable("127.0.0.1", https_port):
            assert proc.poll() is None and time.monotonic() < deadline, (workdir / "stdout.log").read_text() + (
                workdir / "error.log"
            ).read_text()
            time.sleep(0.05)
        yield f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backend.launcher", description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", help="print the command instead of running it")
    sub = parser.add_subparsers(dest="process", required=True)
    p = sub.add_parser("inference-worker")
    p.add_argument("--concurrency", type=int, default=INFERENCE_CONCURRENCY)
    p = sub.add_parser("default-worker")
    p.add_argument("--concurrency", type=int)
    p.add_argument("--beat", metavar="SCHEDULE_FILE", help="run beat inside, with this schedule file")
    sub.add_parser("exports-worker")
    p = sub.add_parser("beat")
    p.add_argument("--schedule", default="celerybeat-schedule")
    p = sub.add_parser("web")
    p.add_argument("--listen", default="127.0.0.1:8000")
    p.add_argument("--threads", type=int, default=8)
    p = sub.add_parser("gunicorn")
    p.add_argument("--bind", default="0.0.0.0:8000")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--timeout", type=int)
    return parser


def command(argv: list[str] | None = None) -> tuple[list[str], bool]:
    """(the command line, print only) for launcher arguments."""
    args = _parser().parse_args(argv)
    build = {
        "inference-worker": lambda: inference_worker(concurrency=args.concurrency),
        "default-worker": lambda: default_worker(concurrency=args.concurrency, beat_schedule=args.beat),
        "exports-worker": exports_worker,
        "beat": lambda: beat_command(schedule=args.schedule),
        "web": lambda: web(listen=args.listen, threads=args.threads),
        "gunicorn": lambda: gunicorn(bind=args.bind, workers=args.workers, threads=args.threads, timeout=args.timeout),
    }[args.process]
    return build(), args.print


def main(argv: list[str] | None = None) -> None:
    cmd, print_only = command(argv)
    if print_only:
        print("\n".join(cmd))
        return
    os.execv(cmd[0], cmd)  # the launcher becomes the process: signals and exit status are its own


if __name__ == "__main__":
    main()
