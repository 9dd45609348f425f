"""Production: PostgreSQL, Redis, S3-compatible storage; secrets have no defaults."""

from django.core.exceptions import ImproperlyConfigured

from backend.settings.base import *  # noqa: F401,F403
from backend.settings.base import STORAGES, env, with_database_timeouts

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")  # no default: refuse to start without it
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
DATABASES = {"default": with_database_timeouts(env.db("DATABASE_URL"))}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # a connection PostgreSQL dropped is replaced, not used
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Links in alert e-mails and webhooks: no localhost default in production.
RANGEWATCH_PUBLIC_BASE_URL = env.str("RANGEWATCH_PUBLIC_BASE_URL")
if not RANGEWATCH_PUBLIC_BASE_URL.startswith("https://"):
    raise ImproperlyConfigured("RANGEWATCH_PUBLIC_BASE_URL must be the public https:// address (alert links use it)")

# No SECURE_PROXY_SSL_HEADER: Django would believe any client's X-Forwarded-Proto. gunicorn sets
# the scheme from that header only for connections from FORWARDED_ALLOW_IPS (the nginx proxy,
# which overwrites it: deploy/nginx), and request.is_secure() follows the scheme.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

if env.str("AWS_STORAGE_BUCKET_NAME", default=""):
    # S3-compatible private storage for photos (django-storages).
    STORAGES = {
        **STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
                "default_acl": "private",
                "querystring_auth": True,
            },
        },
    }
