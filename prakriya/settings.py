"""Settings for Prakriya.

Every value that depends on the deployment is read from the environment here and only here.
Bad values fail loudly at start-up rather than half-working later.
"""

from __future__ import annotations

import base64
import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE as _CSP_NONCE
from csp.constants import NONE as _CSP_NONE
from csp.constants import SELF as _CSP_SELF
from django.core.exceptions import ImproperlyConfigured

from prakriya.env import (
    env_bool,
    env_float,
    env_int,
    env_int_map,
    env_list,
    env_rate,
    env_str,
    fernet_keys,
    generated_key_file,
)

BASE_DIR = Path(__file__).resolve().parent.parent


DEBUG = env_bool("DEBUG", False)

# The embedded default keeps everything (database, broker, MLflow, DVC, exports) in one folder.
DATA_DIR = Path(env_str("PRAKRIYA_DATA_DIR", str(BASE_DIR / "data"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

_secret = os.environ.get("SECRET_KEY", "").strip()
if not _secret:
    if not DEBUG and env_bool("PRAKRIYA_REQUIRE_SECRET_KEY", False):
        raise ImproperlyConfigured("SECRET_KEY must be set in production")
    # A per-installation key kept in the data folder: stable across restarts, never committed.
    from django.core.management.utils import get_random_secret_key

    _secret = generated_key_file(DATA_DIR / "secret_key.txt", get_random_secret_key)
SECRET_KEY = _secret




# The key that encrypts sealed test labels at rest (datasets/sealed_store.py), apart from the
# repository and from SECRET_KEY (rotating the signing key must not lose the test labels).
# Several keys, comma-separated: the first encrypts, all decrypt (rotation). Every web and worker
# process must have the same keys; without the variable, one is generated into the data folder.
_sealed_raw = os.environ.get("PRAKRIYA_SEALED_KEY", "").strip()
if not _sealed_raw:
    if not DEBUG and env_bool("PRAKRIYA_REQUIRE_SECRET_KEY", False):
        raise ImproperlyConfigured("PRAKRIYA_SEALED_KEY must be set in production")
    _sealed_raw = generated_key_file(
        DATA_DIR / "sealed_key.txt", lambda: base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")
    )
PRAKRIYA_SEALED_KEYS = fernet_keys(_sealed_raw, "PRAKRIYA_SEALED_KEY")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Sign-in throttling and the Content-Security-Policy header (see their blocks below).
    "axes",
    "csp",
    "prakriya",
    "prakriya.accounts",
    "prakriya.jobs",
    "projects",
    "datasets",
    "datasets.annotation",
    "experiments",
    "deployments",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Each request remembers its users' project roles, once (projects/policy.py).
    "prakriya.request_memo.RequestMemoMiddleware",
    # Content-Security-Policy on every response, error pages of the middleware below included.
    "prakriya.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a lock-out found during authenticate() into the lock-out answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "prakriya.urls"
WSGI_APPLICATION = "prakriya.wsgi.application"
# Layers around the Django application (prakriya/wsgi.py), each a class taking the app it wraps:
# the prediction endpoint's fast path answers key-authenticated JSON predictions without the
# middleware and DRF (deployments/wsgi.py says why) and passes every other request on.
PRAKRIYA_WSGI_LAYERS = ["deployments.wsgi.PredictFastPath"]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            # The UI's filters (markdown, tone, num) are available in every template.
            "builtins": ["frontend.templatetags.prakriya"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # The count of what waits on the signed-in person, beside "Home" in the header.
                "projects.context_processors.home_waiting",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'prakriya.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
        # A kept connection is checked before each request reuses it: a database restart costs
        # one reconnect instead of a failed request.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker share the file: wait for locks instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update({"timeout": 30, "transaction_mode": "IMMEDIATE"})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The axes backend first: it refuses a locked-out account or address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "prakriya.accounts.backends.SignInThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "projects:home"
LOGOUT_REDIRECT_URL = "projects:directory"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "static")))
# whitenoise serves from here after collectstatic (and warns at start-up if it is missing).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# plotly.js comes from the plotly package's own bundled file (no CDN: the UI works offline); the
# finder offers that one file, not the rest of the package's data folder.
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "prakriya.static_finders.PlotlyJsFinder",
]
# collectstatic (run by `manage.py serve` on every start and by the image's build) writes every
# file under a name carrying a hash of its content, plus its .br and .gz: WhiteNoise serves the
# compressed variant the browser accepts and caches a hashed name for a year, marked immutable.
# A name missing from the manifest fails loudly (collectstatic was not run) rather than being
# served uncached. The test suite swaps in the unhashed storage (tests/conftest.py says why).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "prakriya.static_storage.HashedCompressedStaticFilesStorage"},
}
# Finders serve what collectstatic has not collected yet, under unhashed names (short-cached).
WHITENOISE_USE_FINDERS = True

# Request size caps: a malformed or hostile request gets a 400/413, never a 500.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("PRAKRIYA_MAX_REQUEST_BYTES", 2_621_440, minimum=1024)
PRAKRIYA_MAX_MARKDOWN_CHARS = env_int("PRAKRIYA_MAX_MARKDOWN_CHARS", 50_000, minimum=100)

# The project model that jobs are scoped to; referenced by name so prakriya/ imports no app.
PRAKRIYA_PROJECT_MODEL = "projects.Project"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an anonymous write is answered 401 with a WWW-Authenticate header.
        "prakriya.rest.StrictTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PARSER_CLASSES": ["prakriya.rest.CappedJSONParser", "prakriya.rest.CappedFormParser"],
    # The browsable API's page under the Content-Security-Policy (prakriya/rest.py).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer", "prakriya.rest.BrowsableAPIRenderer"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "prakriya.api_errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
REST_KNOX = {
    # Personal tokens live until their owner revokes them (or the expiry they chose).
    "TOKEN_TTL": None,
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Prakriya API",
    "DESCRIPTION": "Projects, memberships, targets, deliverables with review actions, and jobs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "DeliverableStateEnum": "projects.models.DeliverableState",
        "DatasetKindEnum": "datasets.models.DatasetKind",
        "VersionStateEnum": "datasets.models.VersionState",
        "JobStateEnum": "prakriya.jobs.models.JobState",
        "RatingEnum": "projects.models.Rating",
        "ProjectStageEnum": "projects.models.STAGE_CHOICES",
        "CheckpointStageEnum": "experiments.checkpoints.STAGES",
    },
}

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", f"sqla+sqlite:///{DATA_DIR / 'broker.sqlite3'}")
_visibility_timeout = env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1)
_key_prefix = os.environ.get("CELERY_KEY_PREFIX", "").strip()
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # An unacknowledged message goes back to the queue after this long (a worker died with it).
    CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = _visibility_timeout
    if _key_prefix:
        # Lets several installations (or test runs) share one Redis without taking each other's work.
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = _key_prefix
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
PRAKRIYA_SWEEP_INTERVAL_SECONDS = env_int("PRAKRIYA_SWEEP_INTERVAL_SECONDS", 30, minimum=1)
# How often beat starts a drift check of every deployment that answered since its last check.
PRAKRIYA_DRIFT_INTERVAL_SECONDS = env_int("PRAKRIYA_DRIFT_INTERVAL_SECONDS", 3600, minimum=60)
CELERY_BEAT_SCHEDULE = {
    "sweep-jobs": {
        "task": "prakriya.jobs.sweep",
        "schedule": timedelta(seconds=PRAKRIYA_SWEEP_INTERVAL_SECONDS),
    },
    "drift-checks": {
        "task": "deployments.drift.checks_start",
        "schedule": timedelta(seconds=PRAKRIYA_DRIFT_INTERVAL_SECONDS),
    },
}
# A running job whose heartbeat is older than this is taken as lost with its worker.
PRAKRIYA_JOB_STALE_SECONDS = env_int("PRAKRIYA_JOB_STALE_SECONDS", 120, minimum=5)
# A queued job not picked up within this long is re-enqueued (its message was lost).
PRAKRIYA_JOB_REQUEUE_SECONDS = env_int("PRAKRIYA_JOB_REQUEUE_SECONDS", 300, minimum=5)
PRAKRIYA_JOB_HEARTBEAT_SECONDS = env_int("PRAKRIYA_JOB_HEARTBEAT_SECONDS", 10, minimum=1)
PRAKRIYA_JOB_MAX_ATTEMPTS = env_int("PRAKRIYA_JOB_MAX_ATTEMPTS", 3, minimum=1)
# Sealed test evaluations a project may spend (approved, running or done ones count; 0 disables them).
PRAKRIYA_EVALUATION_BUDGET = env_int("PRAKRIYA_EVALUATION_BUDGET", 3, minimum=0)

# --- Fair use: job time limits, caps on active jobs, rate limits, who creates projects -------
# (docs/jobs.md "Limits"; every default below is in the README's configuration table.)


# Soft time limit of a job kind that names none of its own (JobKind.time_limit); at the soft limit
# the job is told to stop and ends failed ("ran out of time"), at soft + grace its worker process
# is killed. PRAKRIYA_JOB_TIME_LIMITS overrides kinds by name: experiments_train=14400,...
PRAKRIYA_JOB_TIME_LIMIT_SECONDS = env_int("PRAKRIYA_JOB_TIME_LIMIT_SECONDS", 3600, minimum=1)
PRAKRIYA_JOB_TIME_LIMITS = env_int_map("PRAKRIYA_JOB_TIME_LIMITS")
PRAKRIYA_JOB_TIME_LIMIT_GRACE_SECONDS = env_int("PRAKRIYA_JOB_TIME_LIMIT_GRACE_SECONDS", 60, minimum=1)
# Jobs queued or running at once (waiting for their turn included), per project and per person
# who started them; a request over either cap is answered 429. 0 turns a cap off.
PRAKRIYA_JOBS_MAX_ACTIVE_PER_PROJECT = env_int("PRAKRIYA_JOBS_MAX_ACTIVE_PER_PROJECT", 32, minimum=0)
PRAKRIYA_JOBS_MAX_ACTIVE_PER_USER = env_int("PRAKRIYA_JOBS_MAX_ACTIVE_PER_USER", 16, minimum=0)
# The one training bound an operator plausibly moves (long runs on GPU machines); the others are
# constants in experiments/training/limits.py.
PRAKRIYA_TRAINING_MAX_EPOCHS = env_int("PRAKRIYA_TRAINING_MAX_EPOCHS", 1000, minimum=1)
# Who may create projects: anyone signed in (the community default), or staff only.
PRAKRIYA_PROJECT_CREATORS = env_str("PRAKRIYA_PROJECT_CREATORS", "anyone").lower()
if PRAKRIYA_PROJECT_CREATORS not in {"anyone", "staff"}:
    raise ImproperlyConfigured(f"PRAKRIYA_PROJECT_CREATORS must be anyone or staff, got {PRAKRIYA_PROJECT_CREATORS!r}")

# Rate limits (django-ratelimit, prakriya/limits.py): per person signed in (per address for
# sign-up), counted in the default cache, which every process of a deployment must share.
PRAKRIYA_RATE_LIMITS = {
    "uploads": env_rate("PRAKRIYA_RATE_LIMIT_UPLOADS", "30/h"),
    "jobs": env_rate("PRAKRIYA_RATE_LIMIT_JOBS", "60/h"),
    "profiles": env_rate("PRAKRIYA_RATE_LIMIT_PROFILES", "10/h"),
    "signups": env_rate("PRAKRIYA_RATE_LIMIT_SIGNUPS", "5/h"),
}
RATELIMIT_ENABLE = env_bool("PRAKRIYA_RATE_LIMIT_ENABLED", True)
RATELIMIT_USE_CACHE = "default"
RATELIMIT_VIEW = "prakriya.limits.rate_limited_view"
# Per-address limits (sign-up) see the client as the sign-in throttle does: behind
# PRAKRIYA_PROXY_COUNT reverse proxies, the address the outermost one appended.
RATELIMIT_IP_META_KEY = "prakriya.limits.client_address"
INSTALLED_APPS += ["django_ratelimit"]
# Innermost: turns a rate limit or a job cap raised by an HTML view into a readable 429 page.
MIDDLEWARE += ["prakriya.limits.LimitsMiddleware"]

# The cache holds the rate-limit counters, so it must be one for all processes: Redis in compose
# (a database of its own: clearing a Django cache flushes its whole Redis database), and on one
# machine a diskcache folder in the data folder (SQLite underneath: shared by the web server and
# the worker, with atomic increments).
_cache_url = env_str("PRAKRIYA_CACHE_URL", f"file://{DATA_DIR / 'cache'}")
if _cache_url.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}}
elif _cache_url.startswith("file://") and _cache_url[len("file://"):].startswith("/"):
    CACHES = {"default": {"BACKEND": "diskcache.DjangoCache", "LOCATION": _cache_url[len("file://"):],
                          "OPTIONS": {"size_limit": 256 * 1024**2}}}
else:
    raise ImproperlyConfigured(
        f"PRAKRIYA_CACHE_URL must be redis://host:6379/1 or file:///absolute/folder, got {_cache_url!r}"
    )
SILENCED_SYSTEM_CHECKS = [
    # django-ratelimit vouches only for django-redis and memcached, and warns about any other
    # backend; Django's own Redis backend increments with INCR and diskcache's increments are
    # transactions, both atomic across processes, which is what the check is about.
    "django_ratelimit.W001",
]
# --- end of fair use --------------------------------------------------------------------------

# --- MLflow: the experiment store (experiments/mlflow_store.py) ----------------------------
# The platform reads and writes MLflow's backend store directly (a SQLAlchemy database URI,
# never an http:// tracking server) and serves it to MLflow clients at /mlflow/.
PRAKRIYA_MLFLOW_BACKEND_URI = env_str(
    "PRAKRIYA_MLFLOW_BACKEND_URI", f"sqlite:///{DATA_DIR / 'mlflow' / 'mlflow.db'}"
)
if not re.fullmatch(r"(sqlite|postgresql|mysql|mssql)(\+\w+)?://.*", PRAKRIYA_MLFLOW_BACKEND_URI):
    raise ImproperlyConfigured(
        "PRAKRIYA_MLFLOW_BACKEND_URI must be a database URI (sqlite:///…, postgresql+psycopg://…), "
        f"got {PRAKRIYA_MLFLOW_BACKEND_URI.split('://')[0]!r}://…"
    )
# Where run artifacts are kept: a folder, or an object-store URI (s3://bucket/prefix). Clients
# never see it: they upload and download through the platform (MLflow's served artifacts).
_mlflow_artifacts = env_str("PRAKRIYA_MLFLOW_ARTIFACTS_DIR", str(DATA_DIR / "mlflow" / "artifacts"))
if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", _mlflow_artifacts):
    if not _mlflow_artifacts.startswith(("s3://", "gs://", "wasbs://", "file://")):
        raise ImproperlyConfigured(
            f"PRAKRIYA_MLFLOW_ARTIFACTS_DIR must be a folder or an s3://, gs://, wasbs:// or file:// URI, "
            f"got {_mlflow_artifacts!r}"
        )
    PRAKRIYA_MLFLOW_ARTIFACTS_DIR = _mlflow_artifacts
else:
    PRAKRIYA_MLFLOW_ARTIFACTS_DIR = str(Path(_mlflow_artifacts).resolve())
# Largest single artifact file a client may upload through /mlflow/ (streamed to the store,
# never held in memory).
PRAKRIYA_MLFLOW_ARTIFACT_MAX_BYTES = env_int("PRAKRIYA_MLFLOW_ARTIFACT_MAX_BYTES", 2 * 1024**3, minimum=1024)

# --- Stores used by later stages (created on demand under the data folder) -----------------
PRAKRIYA_DVC_ROOT = Path(env_str("PRAKRIYA_DVC_ROOT", str(DATA_DIR / "dvc")))
# The default DVC remote of every project repository: a folder, or s3://bucket/prefix (MinIO in
# compose, credentials from the AWS_* variables); the endpoint is for S3-compatible stores.
PRAKRIYA_DVC_REMOTE_URL = env_str("PRAKRIYA_DVC_REMOTE_URL", str(DATA_DIR / "dvc-remote"))
PRAKRIYA_DVC_S3_ENDPOINT_URL = os.environ.get("PRAKRIYA_DVC_S3_ENDPOINT_URL", "").strip()
PRAKRIYA_EXPORT_DIR = Path(env_str("PRAKRIYA_EXPORT_DIR", str(DATA_DIR / "exports")))

# --- Deployment (deployments/): ONNX export, serving, prediction log, drift ---------------
# The largest difference of any class score between a run's model and its ONNX export on the
# validation part before the export fails its parity check.
PRAKRIYA_EXPORT_PARITY_TOLERANCE = env_float("PRAKRIYA_EXPORT_PARITY_TOLERANCE", 1e-4, minimum=0.0)
# ONNX Runtime execution providers, in order of preference; nothing assumes a GPU.
PRAKRIYA_ONNX_PROVIDERS = env_list("PRAKRIYA_ONNX_PROVIDERS", ["CPUExecutionProvider"])
# Where a serving process keeps the ONNX files it loaded (by SHA-256), fetched from MLflow.
PRAKRIYA_MODELS_DIR = Path(env_str("PRAKRIYA_MODELS_DIR", str(DATA_DIR / "models")))
PRAKRIYA_ONNX_MAX_BYTES = env_int("PRAKRIYA_ONNX_MAX_BYTES", 200 * 1024**2, minimum=1024)
# A prediction request: its body and how many inputs one call may carry.
PRAKRIYA_PREDICT_MAX_BODY_BYTES = env_int("PRAKRIYA_PREDICT_MAX_BODY_BYTES", 2 * 1024**2, minimum=1024)
PRAKRIYA_PREDICT_MAX_BATCH = env_int("PRAKRIYA_PREDICT_MAX_BATCH", 256, minimum=1)
# How long a web process may answer a deployment key from what it last read of the key and its
# deployment (deployments/wsgi.py): the bound on how late a revocation, a promote or a rollback
# reaches a process. At most a second, the rollout's promise; 0 reads them for every request.
PRAKRIYA_PREDICT_ROUTE_SECONDS = env_float("PRAKRIYA_PREDICT_ROUTE_SECONDS", 0.2, minimum=0.0, maximum=1.0)
# Predictions older than this many days are pruned from the log (0 keeps them for ever).
PRAKRIYA_PREDICTION_RETENTION_DAYS = env_int("PRAKRIYA_PREDICTION_RETENTION_DAYS", 90, minimum=0)
# The population stability index past which a feature or the predictions count as drifted.
PRAKRIYA_DRIFT_PSI_THRESHOLD = env_float("PRAKRIYA_DRIFT_PSI_THRESHOLD", 0.2, minimum=0.0)
# The production traffic a drift check reads: the stable export's latest predictions, at most
# this many, none older than this many days; fewer than the minimum and no report is made (a PSI
# of a handful of predictions is noise).
PRAKRIYA_DRIFT_WINDOW_PREDICTIONS = env_int("PRAKRIYA_DRIFT_WINDOW_PREDICTIONS", 5000, minimum=10)
PRAKRIYA_DRIFT_WINDOW_DAYS = env_int("PRAKRIYA_DRIFT_WINDOW_DAYS", 7, minimum=1)
PRAKRIYA_DRIFT_MIN_PREDICTIONS = env_int("PRAKRIYA_DRIFT_MIN_PREDICTIONS", 50, minimum=1)
# The most production inputs one loop back sends to labelling.
PRAKRIYA_LOOPBACK_MAX_ITEMS = env_int("PRAKRIYA_LOOPBACK_MAX_ITEMS", 1000, minimum=1)
# The most items one batch prediction scores: a larger dataset version is refused when it is asked
# for (the job holds an export worker for its whole run and writes one CSV row per item).
PRAKRIYA_BATCH_PREDICT_MAX_ITEMS = env_int("PRAKRIYA_BATCH_PREDICT_MAX_ITEMS", 200_000, minimum=1)

# --- Dataset uploads (datasets/ingest): bounds every upload and archive is held to --------
PRAKRIYA_UPLOAD_MAX_BYTES = env_int("PRAKRIYA_UPLOAD_MAX_BYTES", 512 * 1024**2, minimum=1024)
PRAKRIYA_ARCHIVE_MAX_MEMBERS = env_int("PRAKRIYA_ARCHIVE_MAX_MEMBERS", 200_000, minimum=1)
PRAKRIYA_ARCHIVE_MAX_TOTAL_BYTES = env_int("PRAKRIYA_ARCHIVE_MAX_TOTAL_BYTES", 2 * 1024**3, minimum=1024)
PRAKRIYA_ARCHIVE_MAX_RATIO = env_int("PRAKRIYA_ARCHIVE_MAX_RATIO", 100, minimum=1)
PRAKRIYA_UPLOAD_MAX_COLUMNS = env_int("PRAKRIYA_UPLOAD_MAX_COLUMNS", 10_000, minimum=1)
PRAKRIYA_UPLOAD_MAX_ROWS = env_int("PRAKRIYA_UPLOAD_MAX_ROWS", 2_000_000, minimum=1)
# Pillow's own decompression-bomb threshold; larger images are rejected before decoding.
PRAKRIYA_IMAGE_MAX_PIXELS = env_int("PRAKRIYA_IMAGE_MAX_PIXELS", 89_478_485, minimum=1)

# Label Studio interop: the server campaigns sync with (empty: sync is off; JSON import and
# export work without it). The key is a Label Studio access token (legacy token or personal
# access token) of a user who may create projects there. PRAKRIYA_PUBLIC_URL is the address
# Label Studio's browser uses to fetch image items from this platform.
PRAKRIYA_LABEL_STUDIO_URL = env_str("PRAKRIYA_LABEL_STUDIO_URL", "").rstrip("/")
PRAKRIYA_LABEL_STUDIO_API_KEY = env_str("PRAKRIYA_LABEL_STUDIO_API_KEY", "")
PRAKRIYA_PUBLIC_URL = env_str("PRAKRIYA_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Production hardening (python manage.py check --deploy) -------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# --- HTTPS: secure cookies, redirect and HSTS follow PRAKRIYA_HTTPS (each overridable) ------
_https = not DEBUG and env_bool("PRAKRIYA_HTTPS", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _https)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Behind a proxy that ends TLS, USE_X_FORWARDED_PROTO must be on, or every request looks like
# plain HTTP and is redirected again.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _https)
# A year once the site says it is on HTTPS: browsers then refuse plain HTTP to it for that long.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if _https else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
# --- end HTTPS ----------------------------------------------------------------------------
if env_bool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Sign-in throttling (django-axes) ------------------------------------------------------
# Failed sign-ins are counted per account (the username typed) and per client address, each on
# its own: either reaching the limit locks it for the cool-off, during which even the right
# password is refused. Used by the login pages, the API login and token creation
# (prakriya/accounts/lockout.py). Lifted by staff or, for their projects' members, by a lead.
AXES_ENABLED = True
AXES_FAILURE_LIMIT = env_int("PRAKRIYA_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("PRAKRIYA_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A success must not wipe the failures: it would wipe its address's count too, letting an attacker
# with an account of their own interleave successes and keep guessing.
AXES_RESET_ON_SUCCESS = False
# Attempts while locked are refused without being counted: the lock ends when it says it does.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Only failures are kept (username, address, time); no log of every successful sign-in.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "prakriya.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "prakriya.accounts.lockout.lockout_response"
# Reverse proxies in front of the platform that append the client's address to X-Forwarded-For
# (0: the address is the connection's own).
PRAKRIYA_PROXY_COUNT = env_int("PRAKRIYA_PROXY_COUNT", 0)

# --- E-mail: sign-up confirmations ---------------------------------------------------------
# Without EMAIL_HOST, messages are written to the server's console log (one machine, no mail).
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be true (SSL: set EMAIL_USE_TLS=false)")
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Prakriya <noreply@localhost>")
# How long a sign-up confirmation link stays valid.
PRAKRIYA_SIGNUP_LINK_HOURS = env_int("PRAKRIYA_SIGNUP_LINK_HOURS", 48, minimum=1)

# --- Content-Security-Policy (django-csp), enforced on every response ----------------------
# Scripts only from the platform's own static files: no inline script, no eval. Style elements
# need the page's nonce (the empty sheet plotly.js fills with CSSOM rules, Swagger UI's few
# rules); style attributes are allowed because plotly.js writes some on its SVG and labels carry
# their colour in one. Images from the platform and data: URIs only, so Markdown pointing at
# another host loads nothing. The API's ReDoc page loosens styles and workers for itself only
# (prakriya/api_docs.py); a page drawing a WebGL chart allows eval for itself only (prakriya/csp.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_CSP_SELF],
        "script-src": [_CSP_SELF],
        "style-src": [_CSP_SELF, _CSP_NONCE],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": [_CSP_SELF, "data:"],
        "font-src": [_CSP_SELF],
        "connect-src": [_CSP_SELF],
        "object-src": [_CSP_NONE],
        "base-uri": [_CSP_SELF],
        "frame-ancestors": [_CSP_NONE],
        "form-action": [_CSP_SELF],
    },
}
# --- end Content-Security-Policy ----------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
