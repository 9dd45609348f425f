"""Settings shared by every environment. Values come from the environment (django-environ)."""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

# Where the embedded default keeps its state (SQLite, photos, broker files, model artifacts).
VAR_DIR = Path(env.str("RANGEWATCH_VAR_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # The project's apps, upstream first; each imports only those above it (.importlinter).
    "species",
    "ranges",
    "accounts",
    "classifier",
    "observations",
    "community",
    "alerts",
    "cameratraps",
    "watchlists",
    "backend",  # the bootstrap command
]

MIDDLEWARE = [
    "backend.upload_limits.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Content-Security-Policy (django-csp): the page at / runs only its own script and style, shows
# its own images and the photo previews (blob:), talks only to its own API, and cannot be framed.
# The Swagger UI runs under it too (backend/urls.py: no inline script, its inline styles allowed);
# the admin (staff only; Django's widgets and our map pages use inline styles) keeps its own pages.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/admin/"],
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "blob:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
# A kept connection that PostgreSQL dropped (restart, failover) is noticed before a request uses it.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    if DATABASES["default"]["NAME"] != ":memory:":
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web process and the worker share the file: wait for the other's write lock
    # instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})

# PostgreSQL timeouts (issue 23: a 25 s table lock and 20 uploads held every gunicorn thread, and
# /healthz took 24.6 s). A statement waits for a lock at most RANGEWATCH_DB_LOCK_TIMEOUT_MS and runs
# at most RANGEWATCH_DB_STATEMENT_TIMEOUT_MS (0 turns either off, e.g. for a long migration); the
# API answers 503 `database_busy` with Retry-After. A connection attempt gives up after
# RANGEWATCH_DB_CONNECT_TIMEOUT_S.
RANGEWATCH_DB_CONNECT_TIMEOUT_S = env.int("RANGEWATCH_DB_CONNECT_TIMEOUT_S", default=5)
RANGEWATCH_DB_STATEMENT_TIMEOUT_MS = env.int("RANGEWATCH_DB_STATEMENT_TIMEOUT_MS", default=30_000)
RANGEWATCH_DB_LOCK_TIMEOUT_MS = env.int("RANGEWATCH_DB_LOCK_TIMEOUT_MS", default=3_000)


def with_database_timeouts(database: dict) -> dict:
    """`database` (a DATABASES entry) with the timeouts above when it is PostgreSQL (libpq's
    connect_timeout and server settings sent at connection); SQLite has its own busy timeout."""
    if "postgres" in database["ENGINE"] or "postgis" in database["ENGINE"]:
        options = database.setdefault("OPTIONS", {})
        options.setdefault("connect_timeout", RANGEWATCH_DB_CONNECT_TIMEOUT_S)
        server = (
            f"-c statement_timeout={RANGEWATCH_DB_STATEMENT_TIMEOUT_MS} -c lock_timeout={RANGEWATCH_DB_LOCK_TIMEOUT_MS}"
        )
        options["options"] = f"{options.get('options', '')} {server}".strip()
    return database


with_database_timeouts(DATABASES["default"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = Path(env.str("RANGEWATCH_MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Photos are private: MEDIA_URL is never routed; served images are EXIF-stripped derivatives.
MEDIA_URL = "/media-private/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploads: the photo is capped; bodies above the cap are refused.
RANGEWATCH_MAX_UPLOAD_BYTES = env.int("RANGEWATCH_MAX_UPLOAD_BYTES", default=20 * 1024 * 1024)
RANGEWATCH_MAX_IMAGE_PIXELS = env.int("RANGEWATCH_MAX_IMAGE_PIXELS", default=50_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = RANGEWATCH_MAX_UPLOAD_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "backend.upload_limits.CappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_NUMBER_FILES = 5

# Shared between processes: upload throttling counts across every web process.
CACHES = {"default": env.cache("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}
if CACHES["default"]["BACKEND"].endswith("RedisCache"):
    # A hung Redis must not hang requests: the upload throttle fails open after half a second.
    CACHES["default"].setdefault("OPTIONS", {}).update({"socket_timeout": 0.5, "socket_connect_timeout": 0.5})
RANGEWATCH_UPLOAD_RATE = env.str("RANGEWATCH_UPLOAD_RATE", default="60/minute")
# Camera-trap projects (issue 23, quota bypass): a project's quota up to the default is the owner's
# choice, above it a staff member approves; each person's project uploads together, whatever the
# projects, are bounded too; at most RANGEWATCH_PROJECT_FRAMES_IN_BROKER frames of one project wait
# in the broker's batch queue at once, the rest are held and released as those finish, so every
# project with work gets a turn (cameratraps.services.batch_frames_release).
RANGEWATCH_PROJECT_DEFAULT_QUOTA_PER_HOUR = env.int("RANGEWATCH_PROJECT_DEFAULT_QUOTA_PER_HOUR", default=20_000)
RANGEWATCH_PROJECT_UPLOADS_PER_USER_RATE = env.str("RANGEWATCH_PROJECT_UPLOADS_PER_USER_RATE", default="20000/hour")
RANGEWATCH_PROJECT_FRAMES_IN_BROKER = env.int("RANGEWATCH_PROJECT_FRAMES_IN_BROKER", default=64)
# Map payloads (ranges.map_features) live in a cache of their own, apart from the throttle counts and
# worker heartbeats above and from the broker: in production a Redis with `maxmemory` and
# allkeys-lru (docker-compose.yml `cache`), so a map flood evicts old maps, never a job or a count.
# Unset: a file cache next to the default one.
CACHES["maps"] = env.cache("MAP_CACHE_URL", default=f"filecache://{VAR_DIR / 'cache-maps'}")
if CACHES["maps"]["BACKEND"].endswith("RedisCache"):
    CACHES["maps"].setdefault("OPTIONS", {}).update({"socket_timeout": 0.5, "socket_connect_timeout": 0.5})
# One cached map at most this big (its JSON); a bigger one is built for the request and not kept.
RANGEWATCH_MAP_CACHE_ENTRY_MAX_BYTES = env.int("RANGEWATCH_MAP_CACHE_ENTRY_MAX_BYTES", default=4 * 1024 * 1024)
# Anonymous map requests per address (core.throttling.MapAnonymousThrottle). A species page asks
# for two maps, a result card two; 429 with Retry-After above it.
RANGEWATCH_MAP_ANON_RATE = env.str("RANGEWATCH_MAP_ANON_RATE", default="60/minute")

# Classifier and verdict.
RANGEWATCH_MODEL_DIR = Path(env.str("RANGEWATCH_MODEL_DIR", default=str(VAR_DIR / "models")))
RANGEWATCH_CONFIDENCE_THRESHOLD = env.float("RANGEWATCH_CONFIDENCE_THRESHOLD", default=0.5)
# Location-aware identification (ranges/identification.py). An alert needs the photo alone to give
# the taxon ALERT_MIN_SCORE; a possible alert taxon at REVIEW_MIN_SCORE or more makes the answer
# "please verify" (no agency notified); a taxon whose known native range excludes the point has its
# score multiplied by PRIOR_FLOOR before naming. Chosen with `python bench/identify.py` (starter
# model, 61 placements): would-be alerts on native animals reached 0.57 and a clearly seen
# out-of-range animal 0.91, so 0.7; review 0.1 sent 17 % of natives to review, 0.3 missed 3 of 4
# visible out-of-range animals, 0.2 neither (2 %, 0 missed); floor 0.1 gave the best top-1 genus and
# committed precision (0.02 lost top-1, 0.3 lost precision).
RANGEWATCH_ALERT_MIN_SCORE = env.float("RANGEWATCH_ALERT_MIN_SCORE", default=0.7)
RANGEWATCH_REVIEW_MIN_SCORE = env.float("RANGEWATCH_REVIEW_MIN_SCORE", default=0.2)
RANGEWATCH_PRIOR_FLOOR = env.float("RANGEWATCH_PRIOR_FLOOR", default=0.1)
# The classifier's own score an answer needs to name a domestic form (dog, cat, cattle, ...): camera-trap
# frames of wild canids and bovids are often called "dog" or "cattle" (bench/identify.py, issue 21).
RANGEWATCH_DOMESTIC_MIN_SCORE = env.float("RANGEWATCH_DOMESTIC_MIN_SCORE", default=0.6)
RANGEWATCH_TOP_K = env.int("RANGEWATCH_TOP_K", default=5)
# The inference worker (DESIGN §6): on CPU, ONNX Runtime (2-3x torch on this class of machine;
# the export is cached next to the artifact); on a GPU, torch with channels_last and autocast.
RANGEWATCH_INFERENCE_DEVICE = env.str("RANGEWATCH_INFERENCE_DEVICE", default="cpu")
RANGEWATCH_INFERENCE_BACKEND = env.str(
    "RANGEWATCH_INFERENCE_BACKEND", default="torch" if RANGEWATCH_INFERENCE_DEVICE.startswith("cuda") else "onnxruntime"
)
# Intra-op threads of the one forward pass per batch (torch or ONNX Runtime). One per prefork
# child; with the thread pool (one process per machine) the cores that process may use.
RANGEWATCH_TORCH_THREADS = env.int("RANGEWATCH_TORCH_THREADS", default=1)
# Micro-batching across the worker's task threads: up to this many photos, or this long after the first.
RANGEWATCH_BATCH_SIZE = env.int("RANGEWATCH_BATCH_SIZE", default=16)
RANGEWATCH_BATCH_WAIT_MS = env.float("RANGEWATCH_BATCH_WAIT_MS", default=10.0)
RANGEWATCH_ONNX_CACHE_DIR = env.str("RANGEWATCH_ONNX_CACHE_DIR", default="")  # "": next to the artifact
RANGEWATCH_INFERENCE_WARMUP = env.bool("RANGEWATCH_INFERENCE_WARMUP", default=True)  # load the model at worker start
RANGEWATCH_RESNET50_WEIGHTS = env.str("RANGEWATCH_RESNET50_WEIGHTS", default="")
# Points in no region polygon (coasts, borders) snap to the nearest region within this distance.
RANGEWATCH_SNAP_TOLERANCE_DEG = env.float("RANGEWATCH_SNAP_TOLERANCE_DEG", default=0.1)
# A ?wait holds a server thread: at most this many per process (about half the web threads: 8 in
# docker-compose.yml and scripts/run) and per user in a process; over either, it is answered at once.
# The embedded web server (backend/serve.py): open connections one client address may hold.
RANGEWATCH_CONNECTIONS_PER_ADDRESS = env.int("RANGEWATCH_CONNECTIONS_PER_ADDRESS", default=64)
RANGEWATCH_WAIT_HOLDS_PER_PROCESS = env.int("RANGEWATCH_WAIT_HOLDS_PER_PROCESS", default=4)
RANGEWATCH_WAIT_HOLDS_PER_USER = env.int("RANGEWATCH_WAIT_HOLDS_PER_USER", default=2)
# Failed password checks (core.throttling.LoginFailureDelays): free failures per account and
# address, and per account from new addresses; then delays of 1 s, 2 s, 4 s ... up to the maximum.
RANGEWATCH_LOGIN_FREE_FAILURES_PER_ADDRESS = env.int("RANGEWATCH_LOGIN_FREE_FAILURES_PER_ADDRESS", default=10)
RANGEWATCH_LOGIN_FREE_FAILURES_PER_ACCOUNT = env.int("RANGEWATCH_LOGIN_FREE_FAILURES_PER_ACCOUNT", default=20)
RANGEWATCH_LOGIN_MAX_DELAY_S = env.int("RANGEWATCH_LOGIN_MAX_DELAY_S", default=15 * 60)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # knox first (expiring, revocable app tokens); it passes unknown keys on to DRF's tokens.
        "accounts.authentication.KnoxTokenAuthentication",
        "accounts.authentication.ExpiringDrfTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_THROTTLE_RATES": {
        "uploads": RANGEWATCH_UPLOAD_RATE,
        # Password endpoints (core.throttling): each try costs a slow hash.
        "login_address": env.str("RANGEWATCH_LOGIN_ADDRESS_RATE", default="10/minute"),
        "register_address": env.str("RANGEWATCH_REGISTER_ADDRESS_RATE", default="10/hour"),
    },
    # Behind a reverse proxy that sets X-Forwarded-For itself, the number of such proxies: the
    # throttles then count the client's address, not the proxy's. Unset: REMOTE_ADDR.
    "NUM_PROXIES": env.int("RANGEWATCH_NUM_PROXIES", default=None),
    "DEFAULT_PAGINATION_CLASS": "core.pagination.BoundedPagination",  # a ceiling on ?limit for every list
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api_errors.exception_handler",
}
# App tokens (django-rest-knox): hashed at rest, expiring, revoked server-side at logout.
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env.int("RANGEWATCH_TOKEN_TTL_DAYS", default=30)),
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_LIMIT_PER_USER": 20,
}

# Alerts to local contacts: e-mail through Django's mail backends, signed webhooks.
EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# Where django.core.mail.backends.filebased.EmailBackend writes each message (one file per connection).
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="RangeWatch <alerts@rangewatch.invalid>")
# Absolute links in alerts (photo evidence) start here.
RANGEWATCH_PUBLIC_BASE_URL = env.str("RANGEWATCH_PUBLIC_BASE_URL", default="http://localhost:8000")
# Darwin Core export (community.dwca): the records' licence as a URI GBIF accepts (CC BY 4.0 by default;
# http://creativecommons.org/publicdomain/zero/1.0/legalcode or .../licenses/by-nc/4.0/legalcode), and the
# publisher and contact e-mail its EML names.
RANGEWATCH_DWCA_LICENSE = env.str(
    "RANGEWATCH_DWCA_LICENSE", default="http://creativecommons.org/licenses/by/4.0/legalcode"
)
RANGEWATCH_DWCA_PUBLISHER = env.str("RANGEWATCH_DWCA_PUBLISHER", default="RangeWatch")
RANGEWATCH_DWCA_CONTACT_EMAIL = env.str("RANGEWATCH_DWCA_CONTACT_EMAIL", default="")
# Watch-list sightings (invasive here) at or above this score alert at once, before review.
RANGEWATCH_ALERT_IMMEDIATE_CONFIDENCE = env.float("RANGEWATCH_ALERT_IMMEDIATE_CONFIDENCE", default=0.9)
# Contact kinds that receive the exact point; the others get the public (generalised) one.
RANGEWATCH_EXACT_LOCATION_CONTACT_KINDS = env.list(
    "RANGEWATCH_EXACT_LOCATION_CONTACT_KINDS", default=["wildlife_agency", "national_agency"]
)
RANGEWATCH_WEBHOOK_TIMEOUT_SECONDS = 10
# Webhooks go to public https addresses only (alerts.webhooks); an operator may trust a private
# network (a partner's VPN), as CIDRs.
RANGEWATCH_WEBHOOK_SCHEMES = env.list("RANGEWATCH_WEBHOOK_SCHEMES", default=["https"])
RANGEWATCH_WEBHOOK_ALLOWED_NETWORKS = env.list("RANGEWATCH_WEBHOOK_ALLOWED_NETWORKS", default=[])
RANGEWATCH_WEBHOOK_CA_BUNDLE = env.str("RANGEWATCH_WEBHOOK_CA_BUNDLE", default="")  # "": the public CAs (certifi)
# Signed photo links in alerts stay valid this long.
RANGEWATCH_PHOTO_LINK_MAX_AGE_DAYS = 30

# Maps (result card, species page, admin) draw the project's own region outlines: no tile server needed.
# A tile layer is drawn under them only when set, e.g. "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
# with "© OpenStreetMap contributors" (its usage policy applies; a production site should run or rent tiles).
RANGEWATCH_MAP_TILE_URL = env.str("RANGEWATCH_MAP_TILE_URL", default="")
RANGEWATCH_MAP_TILE_ATTRIBUTION = env.str("RANGEWATCH_MAP_TILE_ATTRIBUTION", default="")

SPECTACULAR_SETTINGS = {
    "TITLE": "RangeWatch API",
    "DESCRIPTION": (
        "Photo + place -> species -> native here, or invasive here?\n\n"
        "Authenticate with an app token from `POST /api/v1/auth/login/`: press *Authorize* and enter `Token <key>`. "
        "The examples are a real case: the African elephant of SpeciesNet's test images, in the Serengeti at -2.33, 34.83."
    ),
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get their own components, so that a FileField is `format: binary` (a file picker).
    "COMPONENT_SPLIT_REQUEST": True,
    # Views without explicit tags are tagged by the path segment after this prefix (species, regions, check).
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # One documented scheme: the knox app token ("Token <key>"); session and legacy DRF tokens still work.
    "AUTHENTICATION_WHITELIST": ["accounts.authentication.KnoxTokenAuthentication"],
    "TAGS": [
        {"name": "observations", "description": "upload a photo, read the result, the photo itself"},
        {"name": "check", "description": "the verdict for a taxon at a point, without a photo"},
        {"name": "regions", "description": "regions and local contacts at a point"},
        {"name": "species", "description": "taxa, facts and ranges"},
        {"name": "identifications", "description": "community identifications of an observation"},
        {"name": "review", "description": "reviewers: the queue and their decisions"},
        {"name": "feed", "description": "public observations (coordinates generalised where sensitive)"},
        {"name": "exports", "description": "Darwin Core Archive of reviewed records"},
        {"name": "accounts", "description": "register, log in (get an app token), log out"},
        {"name": "camera-trap projects", "description": "projects, deployments, their frames and sequences"},
        {
            "name": "watch lists",
            "description": "areas x taxa or a rule, every record matched; triage, seen marks, exports, map tiles",
        },
    ],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "backend.openapi.add_error_responses",
        "backend.openapi.add_real_examples",
    ],
    # Several serializers have a "status" field with different choices: name the observation's.
    "ENUM_NAME_OVERRIDES": {
        "ObservationStatusEnum": "observations.models.Observation.Status",
        "VerdictStatusEnum": "ranges.verdict.VERDICT_STATUSES",
        "GeoprivacyEnum": "observations.models.Geoprivacy",  # observations' geoprivacy and projects' default
    },
}

# Celery: job state lives in the database; the broker only carries ids.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
_BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem"):
    # The embedded broker: plain files, no system service; messages written atomically (backend.broker).
    _BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT = "backend.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR),
        "data_folder_out": str(_BROKER_DIR),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,  # kombu's default (1 s) would add up to a second to every verdict
    }
else:
    # Redis redelivers an unacked task after visibility_timeout: keep it above the hard limit.
    # Socket timeouts: a hung Redis (SIGSTOP, a full disk) fails a publish (two tries) in 1.5 s
    # instead of holding the upload (the sweeper re-enqueues it), and the worker reconnects.
    # Redis answers in well under a millisecond; the worker's BRPOP is read only once readable.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=600),
        "socket_timeout": 0.75,
        "socket_connect_timeout": 0.75,
        # "sorted": a worker polls its queues in name order, every time ("inference" before
        # "inference-batch"), instead of kombu's round robin, so phones go before a camera-trap batch.
        "queue_order_strategy": "sorted",
    }
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Every task declares its queue where it is defined (core.jobs.task); this router reads it.
CELERY_TASK_ROUTES = ("core.jobs.declared_queue",)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes the task thread's database connection after every task unless this
# is set (a new PostgreSQL connection per photo). With it, connections live as CONN_MAX_AGE says:
# backend.celery closes the obsolete or broken ones around each task, as Django does per request.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=180)
CELERY_TASK_DEFAULT_QUEUE = "default"
# A prefork child reports "up" only once its worker_process_init hooks return, and an inference
# child warms up there (classifier.inference: the range index, then the model; seconds on a
# starter database, a minute with every county on a busy machine). Celery's default of 4 s SIGKILLs
# every replacement child that is still warming up and forks another, which meets the same end:
# after a child was lost (R19, R20) the worker never ran a task again. A child that hangs at start
# is still killed, after this long.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = env.float("CELERY_WORKER_PROC_ALIVE_TIMEOUT", default=300.0)
# A bounded publish: an upload never hangs on a dead broker (the sweeper re-enqueues later).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
# The sweeper re-enqueues uploads stuck in `queued` (broker down at upload, broker restarted empty)
# and reclaims a dead worker's jobs (heartbeat expired): every 10 s, so that takes ~30 s at most.
RANGEWATCH_SWEEP_INTERVAL_S = env.float("RANGEWATCH_SWEEP_INTERVAL_S", default=10.0)
RANGEWATCH_SWEEP_QUEUED_AFTER_S = env.int("RANGEWATCH_SWEEP_QUEUED_AFTER_S", default=60)
CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-observations": {
        "task": "observations.sweep_stuck_observations",
        "schedule": RANGEWATCH_SWEEP_INTERVAL_S,
    },
    # Watch-list digests: "immediate" lists every 5 minutes, daily at 06:00 UTC, weekly on Monday.
    "watchlist-digests-immediate": {"task": "watchlists.send_digests", "schedule": 300.0, "args": ["immediate"]},
    "watchlist-digests-daily": {
        "task": "watchlists.send_digests",
        "schedule": crontab(hour=6, minute=0),
        "args": ["daily"],
    },
    "watchlist-digests-weekly": {
        "task": "watchlists.send_digests",
        "schedule": crontab(hour=6, minute=0, day_of_week=1),
        "args": ["weekly"],
    },
    # Fair shares of the batch queue between camera-trap projects (cameratraps.services.batch_frames_release).
    "release-project-frames": {"task": "cameratraps.release_project_frames", "schedule": RANGEWATCH_SWEEP_INTERVAL_S},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Django's own console handler (DEBUG only) would print each 4xx/5xx a second time through root.
    "loggers": {"django": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO"), "propagate": False}},
}
