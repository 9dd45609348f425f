"""Production configuration: compose file valid, secrets required, deploy checks, Celery limits."""
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
}


def run(args, env):
    clean = {k: v for k, v in os.environ.items() if k not in PROD_ENV}
    return subprocess.run(args, cwd=REPO, env={**clean, **env}, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="needs Debian's docker-compose (.ci/run installs it)")
def test_docker_compose_config_is_valid():
    out = run(["docker-compose", "config", "-q"], {"DJANGO_SECRET_KEY": "x", "POSTGRES_PASSWORD": "y"})
    assert out.returncode == 0, out.stderr
    services = run(["docker-compose", "config", "--services"], {"DJANGO_SECRET_KEY": "x", "POSTGRES_PASSWORD": "y"}).stdout.split()
    assert {"web", "worker-gpu", "worker-cpu", "beat", "redis", "db"} <= set(services)


def test_production_refuses_to_start_without_secret():
    env = {k: v for k, v in PROD_ENV.items() if k != "DJANGO_SECRET_KEY"}
    out = run([sys.executable, "manage.py", "check"], env)
    assert out.returncode != 0 and "DJANGO_SECRET_KEY" in out.stderr


def test_r14_check_deploy_passes_on_production_settings():
    out = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], PROD_ENV)
    assert out.returncode == 0, out.stdout + out.stderr


def test_r24_visibility_timeout_exceeds_hard_time_limit(settings):
    from backend.settings import base

    assert base.CELERY_TASK_SOFT_TIME_LIMIT < base.CELERY_TASK_TIME_LIMIT
    redis_options = {"visibility_timeout": 600} if base.CELERY_BROKER_URL.startswith("filesystem") else base.CELERY_BROKER_TRANSPORT_OPTIONS
    assert redis_options["visibility_timeout"] > base.CELERY_TASK_TIME_LIMIT


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
