"""Settings for the test suite: fast hashing, a throw-away media root set by conftest."""

from backend.settings.base import *  # noqa: F401,F403
from backend.settings.base import env, with_database_timeouts

SECRET_KEY = "test-only-not-secret"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES = {"default": with_database_timeouts(env.db("TEST_DATABASE_URL", default="sqlite:///:memory:"))}
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
CELERY_BROKER_TRANSPORT = None  # the URL names it (base.py picks the file-system one for its default URL)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "maps": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "maps"},
}
# The suite asks for many maps from one address; tests of the throttle set their own rate.
RANGEWATCH_MAP_ANON_RATE = "100000/minute"
