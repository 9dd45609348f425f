"""Production configuration: compose file valid, image non-root, secrets required, deploy checks,
Celery limits, proxy headers, CSP, timeouts on every socket to Redis and PostgreSQL."""

import fnmatch
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PROD_ENV = {
    "DJANGO_SETTINGS_MODULE": "backend.settings.production",
    "DJANGO_SECRET_KEY": "a-long-random-production-secret-for-the-check-" + "x" * 30,
    "DJANGO_ALLOWED_HOSTS": "rangewatch.example.org",
    "DATABASE_URL": "sqlite:////tmp/unused.sqlite3",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "RANGEWATCH_PUBLIC_BASE_URL": "https://rangewatch.example.org",
}
COMPOSE_ENV = {
    "DJANGO_SECRET_KEY": "x",
    "POSTGRES_PASSWORD": "y",
    "RANGEWATCH_PUBLIC_BASE_URL": "https://rangewatch.example.org",
    "RANGEWATCH_TLS_DIR": "/etc/ssl",
}
NEEDS_COMPOSE = pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="needs Debian's docker-compose (.ci/run installs it)"
)

# Each of these starts a fresh Python process that sets Django up (manage.py, python -c): 4-50 s.
STARTS_DJANGO = pytest.mark.slow(reason="starts a fresh Django process: 4-50 s")


def run(args, env):
    clean = {k: v for k, v in os.environ.items() if k not in PROD_ENV}
    return subprocess.run(args, cwd=REPO, env={**clean, **env}, capture_output=True, text=True, timeout=120)


@NEEDS_COMPOSE
def test_docker_compose_config_is_valid_with_the_proxy():
    out = run(["docker-compose", "config"], COMPOSE_ENV)
    assert out.returncode == 0, out.stderr
    import yaml  # PyYAML: installed with drf-spectacular

    services = yaml.safe_load(out.stdout)["services"]
    assert {"proxy", "migrate", "web", "worker-gpu", "worker-cpu", "beat", "redis", "db"} <= set(services)
    # Only the proxy is published; gunicorn is reached through it, after the migrate job.
    assert [name for name, service in services.items() if service.get("ports")] == ["proxy"]
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("web", "worker-gpu", "worker-cpu", "redis", "db"):
        assert services[name].get("healthcheck"), f"{name} has no healthcheck"
    proxy_ip = services["proxy"]["networks"]["default"]["ipv4_address"]
    assert services["web"]["environment"]["FORWARDED_ALLOW_IPS"].split(",")[0] == proxy_ip


@NEEDS_COMPOSE
@pytest.mark.parametrize("missing", ["RANGEWATCH_PUBLIC_BASE_URL", "RANGEWATCH_TLS_DIR"])
def test_docker_compose_refuses_to_start_without(missing):
    out = run(["docker-compose", "config", "-q"], {k: v for k, v in COMPOSE_ENV.items() if k != missing})
    assert out.returncode != 0 and missing in out.stderr


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_dockerfile_runs_as_a_non_root_user():
    instructions = dockerfile_instructions()
    users = [(i, arg.split(":")[0]) for i, (op, arg) in enumerate(instructions) if op == "USER"]
    assert users, "the Dockerfile never leaves root"
    last_index, user = users[-1]
    assert user not in ("root", "0"), user
    # Nothing runs as root after the switch, and the account is created in the image.
    assert not any(op == "RUN" for op, _ in instructions[last_index:])
    assert any(op == "RUN" and "useradd" in arg and user in arg for op, arg in instructions)


def dockerignored(path: str) -> bool:
    """Docker's rule for the patterns used here: a pattern excludes a path or any folder above it."""
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(
        fnmatch.fnmatch(prefix, pattern.removeprefix("**/"))
        or fnmatch.fnmatch(prefix, pattern)
        or (pattern.startswith("**/") and fnmatch.fnmatch(prefix.rsplit("/", 1)[-1], pattern[3:]))
        for pattern in patterns
        for prefix in prefixes
    )


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_image():
    local_state = (
        "var/db.sqlite3",
        "var/media/photos/original.jpg",
        "var/broker/msg",
        ".env",
        ".venv/bin/python",
        ".git/config",
        "observations/__pycache__/x.pyc",
    )
    for path in local_state:
        assert dockerignored(path), f"{path} would be copied into the image"
    needed = (
        "manage.py",
        "backend/settings/production.py",
        "observations/templates/observations/index.html",
        "requirements.txt",
        "gunicorn.conf.py",
    )
    for path in needed:
        assert not dockerignored(path), f"{path} is needed in the image"


@STARTS_DJANGO
def test_production_refuses_to_start_without_public_base_url():
    env = {k: v for k, v in PROD_ENV.items() if k != "RANGEWATCH_PUBLIC_BASE_URL"}
    out = run([sys.executable, "manage.py", "check"], env)
    assert out.returncode != 0 and "RANGEWATCH_PUBLIC_BASE_URL" in out.stderr
    plain_http = {**PROD_ENV, "RANGEWATCH_PUBLIC_BASE_URL": "http://localhost:8000"}
    out = run([sys.executable, "manage.py", "check"], plain_http)
    assert out.returncode != 0 and "https://" in out.stderr


@STARTS_DJANGO
def test_client_sent_x_forwarded_proto_does_not_bypass_the_ssl_redirect():
    code = (
        "import django; django.setup(); from django.test import Client;"
        "r = Client(HTTP_HOST='rangewatch.example.org').get('/healthz', HTTP_X_FORWARDED_PROTO='https');"
        "print(r.status_code, r.get('Location'))"
    )
    out = run([sys.executable, "-c", code], PROD_ENV)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["301", "https://rangewatch.example.org/healthz"]


def test_csp_on_the_web_page(client):
    response = client.get("/")
    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == policy["script-src"] == policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == policy["object-src"] == "'none'"
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


@STARTS_DJANGO
def test_redis_hung_settings_bound_every_socket():
    code = (
        "from django.conf import settings as s;"
        "print(s.CACHES['default']['OPTIONS']['socket_timeout'], s.CELERY_BROKER_TRANSPORT_OPTIONS['socket_timeout'],"
        " s.CELERY_BROKER_TRANSPORT_OPTIONS['socket_connect_timeout'], s.DATABASES['default']['CONN_HEALTH_CHECKS'])"
    )
    out = run([sys.executable, "manage.py", "shell", "-c", code], {**PROD_ENV, "CACHE_URL": "redis://127.0.0.1:6379/1"})
    assert out.returncode == 0, out.stderr
    cache_timeout, broker_timeout, broker_connect_timeout, health_checks = out.stdout.splitlines()[-1].split()
    assert float(cache_timeout) <= 1 and float(broker_timeout) <= 1 and float(broker_connect_timeout) <= 1
    assert health_checks == "True"


@STARTS_DJANGO
def test_production_refuses_to_start_without_secret():
    env = {k: v for k, v in PROD_ENV.items() if k != "DJANGO_SECRET_KEY"}
    out = run([sys.executable, "manage.py", "check"], env)
    assert out.returncode != 0 and "DJANGO_SECRET_KEY" in out.stderr


@STARTS_DJANGO
def test_r14_check_deploy_passes_on_production_settings():
    out = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], PROD_ENV)
    assert out.returncode == 0, out.stdout + out.stderr


def test_r24_visibility_timeout_exceeds_hard_time_limit(settings):
    from backend.settings import base

    assert base.CELERY_TASK_SOFT_TIME_LIMIT < base.CELERY_TASK_TIME_LIMIT
    redis_options = (
        {"visibility_timeout": 600}
        if base.CELERY_BROKER_URL.startswith("filesystem")
        else base.CELERY_BROKER_TRANSPORT_OPTIONS
    )
    assert redis_options["visibility_timeout"] > base.CELERY_TASK_TIME_LIMIT


def test_r19_a_prefork_child_has_as_long_to_warm_up_as_a_web_process(settings):
    # A prefork inference child builds the range index before it reports up, as a web process does
    # before it answers /healthz; Celery's default (4 s) killed every replacement child still warming up.
    from backend import launcher
    from backend.celery import app

    assert app.conf.worker_proc_alive_timeout >= launcher.WARM_UP_S


@STARTS_DJANGO
def test_web_process_never_imports_torch():
    code = (
        "import django, sys; django.setup();"
        "from django.core.management import call_command; call_command('migrate', verbosity=0);"
        "from django.test import Client; c = Client();"
        "assert c.get('/healthz').status_code == 200; c.get('/api/schema/');"
        "c.get('/api/v1/check/', {'lat': 1, 'lon': 1, 'taxon': 'Sus scrofa'});"
        "c.post('/api/v1/observations/', {});"
        "import backend.urls;"
        "assert 'torch' not in sys.modules, 'torch imported by the web process'"
    )
    out = run([sys.executable, "-c", code], {"DJANGO_SETTINGS_MODULE": "backend.settings.test"})
    assert out.returncode == 0, out.stderr
