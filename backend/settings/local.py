"""The embedded default: one machine, SQLite, the file-system broker, nothing else installed."""

from backend.settings.base import *  # noqa: F401,F403
from backend.settings.base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-development-only-not-secret")
