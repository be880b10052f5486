"""Settings, all from the environment (see ``.env.example``), with safe development defaults.

``DASH_ENV=production`` switches to production mode: secrets become mandatory and the security
settings that ``manage.py check --deploy`` asks for are on.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from .env import env_bool, env_float, env_int, env_list, env_secret, env_str, private_file

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("DASH_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

ENVIRONMENT = env_str("DASH_ENV", "development")
if ENVIRONMENT not in {"development", "production"}:
    raise ImproperlyConfigured(f"DASH_ENV must be 'development' or 'production', got {ENVIRONMENT!r}")
PRODUCTION = ENVIRONMENT == "production"

DEBUG = env_bool("DEBUG", default=not PRODUCTION)


def _dev_secret(name: str, value: str, make: Callable[[], str]) -> str:
    """Return ``value``; in development, fall back to one generated once into ``var/``."""
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} (or {name}_FILE) is required when DASH_ENV=production")
    return private_file(VAR_DIR / name.lower(), make)


def _fernet_keys(value: str) -> str:
    """``FIELD_ENCRYPTION_KEY`` checked at start-up: a comma-separated list of Fernet keys (never echoed)."""
    keys = [key.strip() for key in value.split(",") if key.strip()]
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY holds no key")
    for number, key in enumerate(keys, 1):
        try:
            Fernet(key.encode())
        except ValueError:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEY: key {number} of {len(keys)} is not a Fernet key (44 characters: 32 bytes in "
                "url-safe base64). Make one with: python -c \"from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())\"") from None
    return value


SECRET_KEY = _dev_secret("SECRET_KEY", env_secret("SECRET_KEY"), lambda: secrets.token_urlsafe(50))
# Comma-separated Fernet keys: the first encrypts, all decrypt (rotate: prepend a new key, run
# `manage.py reencrypt_secrets`, then drop the old one).
FIELD_ENCRYPTION_KEY = _fernet_keys(_dev_secret(
    "FIELD_ENCRYPTION_KEY", env_secret("FIELD_ENCRYPTION_KEY"), lambda: Fernet.generate_key().decode()
))

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Where users reach this product: the OAuth redirect URI shown to register in Exact's app centre.
SITE_URL = env_str("DASH_SITE_URL", "http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_htmx",
    "django_celery_beat",
    "simple_history",
    "ninja",
    "dashboard",
    "api",
    "clients",
    "connections",
    "webhooks",
    "configuration",
    "alerts",
    "exact_online",
    "http_connector",
    "integrations",
    "sandbox",
    "audit",
]

# Content Security Policy: scripts and styles only from the product's own static files (its templates hold no
# inline script, style or on* handler: tests/dashboard/test_csp.py checks), no plugins, no framing.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],  # data: for the two-factor QR code
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
}
try:  # Django 6 sends the header itself; on the 5.2 LTS line config.csp does the same from SECURE_CSP
    import django.middleware.csp  # noqa: F401

    CSP_MIDDLEWARE = "django.middleware.csp.ContentSecurityPolicyMiddleware"
except ImportError:
    CSP_MIDDLEWARE = "config.csp.ContentSecurityPolicyMiddleware"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    CSP_MIDDLEWARE,
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Versions and audit entries learn who (and from which address) made a change from the current request.
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # The demo account (admin/admin) reaches nothing but the change-password form until it changed it.
    "dashboard.passwords.PasswordChangeRequiredMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.context_processors.shell",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"), conn_max_age=env_int("DASH_DB_CONN_MAX_AGE", 0)
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # Several processes (web, worker, beat) share the file: WAL, a long busy timeout, and
        # IMMEDIATE transactions so that writers queue instead of failing with "database is locked".
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file, not memory: test workers started as subprocesses must see the test database.
    # DASH_TEST_RUN_ID (set by tests/isolation.py) keeps concurrent test runs apart.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{env_str('DASH_TEST_RUN_ID', 'main')}.sqlite3")}
    # A SQLite connection is a file opened in the process itself: keeping it (60 s unless DASH_DB_CONN_MAX_AGE says
    # otherwise) halves the webhook endpoint's p95 under 8 concurrent senders (bench/bench_webhooks.py).
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DASH_DB_CONN_MAX_AGE", 60)
    # The task list's covering indexes (INCLUDE) serve PostgreSQL; SQLite keeps their key columns, which is all it
    # needs: no warning on every manage.py command.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]

# A kept connection (DASH_DB_CONN_MAX_AGE > 0) is checked before each request or task reuses it: after a database
# restart the next one opens a new connection instead of failing on the dead one.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _cache(url: str) -> dict[str, str]:
    """``DASH_CACHE_URL``: ``db://`` (a table in the database, made by ``migrate``), ``redis://...`` or
    ``locmem://`` (per process: counts would not add up across web processes, so only for experiments)."""
    if url.startswith(("redis://", "rediss://")):
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url, "KEY_PREFIX": "dash"}
    if url in {"db", "db://"}:
        return {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "dash_cache"}
    if url in {"locmem", "locmem://"}:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "dash"}
    raise ImproperlyConfigured(f"DASH_CACHE_URL must be db://, redis://host:port/db or locmem://, got {url!r}")


# One cache for every process: allauth counts failed logins here (5 per user name per 5 minutes), and a
# per-process cache would let each web process (gunicorn worker) allow its own 5.
CACHES = {"default": _cache(env_str("DASH_CACHE_URL", "db://"))}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard:home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email", "password1*", "password2*"]
ACCOUNT_ADAPTER = "dashboard.adapters.NoSignupAccountAdapter"
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]

# Optional single sign-on through an OpenID Connect provider (dashboard/sso.py; README "Single sign-on").
OIDC_SERVER_URL = env_str("DASH_OIDC_SERVER_URL", "")
OIDC_ENABLED = bool(OIDC_SERVER_URL)
OIDC_NAME = env_str("DASH_OIDC_NAME", "Single sign-on")
OIDC_ROLE_CLAIM = env_str("DASH_OIDC_ROLE_CLAIM", "groups")
OIDC_DEFAULT_ROLE = env_str("DASH_OIDC_DEFAULT_ROLE", "")
if OIDC_DEFAULT_ROLE not in {"", "Viewer", "Editor", "Administrator"}:
    raise ImproperlyConfigured("DASH_OIDC_DEFAULT_ROLE must be empty, Viewer, Editor or Administrator")
try:
    from dashboard.sso import parse_role_map

    OIDC_ROLE_MAP = parse_role_map(env_str("DASH_OIDC_ROLE_MAP", ""))
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
if OIDC_ENABLED:
    INSTALLED_APPS += ["allauth.socialaccount", "allauth.socialaccount.providers.openid_connect"]
    SOCIALACCOUNT_ADAPTER = "dashboard.adapters.SsoAdapter"
    SOCIALACCOUNT_AUTO_SIGNUP = True
    SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
    SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": [{
        "provider_id": "sso",
        "name": OIDC_NAME,
        "client_id": env_str("DASH_OIDC_CLIENT_ID", ""),
        "secret": env_secret("DASH_OIDC_CLIENT_SECRET"),
        "settings": {"server_url": OIDC_SERVER_URL, "scope": env_list("DASH_OIDC_SCOPES", ["openid", "profile",
                                                                                            "email"])},
    }]}}

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("DASH_TIME_ZONE", "Europe/Amsterdam")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

EMAIL_BACKEND = env_str(
    "DASH_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("DASH_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DASH_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("DASH_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("DASH_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DASH_EMAIL_USE_TLS", default=False)  # STARTTLS (usually port 587)
EMAIL_USE_SSL = env_bool("DASH_EMAIL_USE_SSL", default=False)  # implicit TLS (usually port 465)
EMAIL_TIMEOUT = env_int("DASH_EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DASH_DEFAULT_FROM_EMAIL", "exact-dash@localhost")

# --- Celery -------------------------------------------------------------------------------------
# The default broker needs no server: kombu's SQLAlchemy transport over a SQLite file.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}")
# Redis redelivers an unacknowledged task after the visibility timeout (a killed worker loses nothing).
# The SQLAlchemy transport passes its options to create_engine, so it gets none.
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = (
    {"visibility_timeout": env_int("DASH_CELERY_VISIBILITY_TIMEOUT", 3600)}
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
    else {}
)
# DASH_CELERY_KEY_PREFIX: a prefix for every Redis key of the broker, so that several deployments (or parallel
# test workers, see tests/isolation.py) can share one Redis database without taking each other's tasks.
if CELERY_BROKER_TRANSPORT_OPTIONS and env_str("DASH_CELERY_KEY_PREFIX", ""):
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = env_str("DASH_CELERY_KEY_PREFIX", "")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("DASH_CELERY_TASK_TIME_LIMIT", 30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("DASH_CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60)
CELERY_TASK_ALWAYS_EAGER = env_bool("DASH_CELERY_EAGER", default=False)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Two queues. Work someone waits for goes to INTERACTIVE_QUEUE: a webhook's drain (its sender was promised
# "in Exact within seconds"), an Exact change fetch, the publish batches of webhook-fed tasks and of a user's
# Retry click. Everything else (route reads, publish batches of runs, bulk retries, beat's jobs) goes to the
# default queue, where a run may queue thousands of batches. A worker consumes both (``-Q interactive,celery``;
# without ``-Q`` the same, from CELERY_TASK_QUEUES), and both transports (Redis, kombu's SQLAlchemy) take
# turns between a worker's queues, so a drain waits for at most one backlog message per free slot, not for
# the whole backlog. ``-Q interactive`` alone runs a worker for that queue only (README, "More workers").
INTERACTIVE_QUEUE = "interactive"
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Each queue its own routing key: bound alike to the default exchange, every message would go to both.
CELERY_TASK_QUEUES = tuple(Queue(name, routing_key=name) for name in (INTERACTIVE_QUEUE, CELERY_TASK_DEFAULT_QUEUE))
CELERY_TASK_ROUTES = {name: {"queue": INTERACTIVE_QUEUE}
                      for name in ("webhooks.tasks.drain_webhook", "exact_online.tasks.fetch_exact_changes")}

# The beat table (one declarative list; each entry overridable from the environment).
BEAT_SCHEDULE_TABLE = [
    {"name": "worker heartbeat", "task": "dashboard.tasks.heartbeat", "env_key": "DASH_HEARTBEAT_EVERY",
     "default": 15.0, "expires": 14},
    {"name": "repair stuck tasks", "task": "connections.tasks.repair_tasks",
     "env_key": "DASH_REPAIR_TASKS_EVERY", "default": 60.0, "expires": 55},
    {"name": "count the dashboard chart's past days", "task": "connections.tasks.warm_task_chart",
     "env_key": "DASH_TASK_CHART_EVERY", "default": 300.0, "expires": 290},
    {"name": "prune old tasks", "task": "connections.tasks.prune_tasks", "env_key": "DASH_PRUNE_TASKS_CRON",
     "default": "17 3 * * *", "expires": 3600},
    {"name": "keep idle Exact grants alive", "task": "clients.tasks.keep_alive", "env_key": "DASH_KEEPALIVE_CRON",
     "default": "41 4 * * *", "expires": 3600},
    {"name": "prune auth and request logs", "task": "clients.tasks.prune_logs", "env_key": "DASH_PRUNE_LOGS_CRON",
     "default": "23 3 * * *", "expires": 3600},
    {"name": "re-queue webhook deliveries", "task": "webhooks.tasks.sweep_deliveries",
     "env_key": "DASH_WEBHOOK_SWEEP_EVERY", "default": 60.0, "expires": 55},
    {"name": "fetch due Exact webhook changes", "task": "exact_online.tasks.fetch_due_changes",
     "env_key": "DASH_EXACT_WEBHOOK_SWEEP_EVERY", "default": 30.0, "expires": 25},
    {"name": "prune the audit trail", "task": "audit.tasks.prune_audit", "env_key": "DASH_AUDIT_PRUNE_CRON",
     "default": "37 3 * * *", "expires": 3600},
    {"name": "prune old webhook deliveries", "task": "webhooks.tasks.prune_deliveries",
     "env_key": "DASH_WEBHOOK_PRUNE_CRON", "default": "29 3 * * *", "expires": 3600},
    {"name": "evaluate alert rules", "task": "alerts.tasks.evaluate_alerts", "env_key": "DASH_ALERTS_EVERY",
     "default": 60.0, "expires": 55},
    {"name": "daily alert digest", "task": "alerts.tasks.daily_digest", "env_key": "DASH_ALERT_DIGEST_CRON",
     "default": "0 7 * * *", "expires": 3600},
]

# --- The product ---------------------------------------------------------------------------------
WORKER_HEARTBEAT_STALE_AFTER = env_int("DASH_WORKER_STALE_AFTER", 90)
# /health runs its checks (one broker connection) at most once per this many seconds per process.
HEALTH_CACHE_SECONDS = env_float("DASH_HEALTH_CACHE_SECONDS", 5.0)
OUTBOUND_TIMEOUT = env_float("DASH_OUTBOUND_TIMEOUT", 30.0)
# Generic HTTP clients: private, loopback and link-local targets are refused unless allowed (on in DEBUG), or the
# host is on the allow-list (the sandbox's host always is); answers larger than OUTBOUND_MAX_BYTES are refused.
OUTBOUND_ALLOW_PRIVATE = env_bool("DASH_OUTBOUND_ALLOW_PRIVATE", default=DEBUG)
OUTBOUND_ALLOWED_HOSTS = env_list("DASH_OUTBOUND_ALLOWED_HOSTS", [])
OUTBOUND_MAX_BYTES = env_int("DASH_OUTBOUND_MAX_BYTES", 10_000_000)
# HTTP clients: refresh grants idle this long (Exact's refresh tokens die after 30 unused days); log retention.
CLIENTS_KEEPALIVE_IDLE_DAYS = env_float("DASH_KEEPALIVE_IDLE_DAYS", 20.0)
CLIENTS_LOG_RETENTION_DAYS = env_int("DASH_LOG_RETENTION_DAYS", 30)
# API calls are counted in each process and written at most this often (and after every job and request).
CALL_COUNT_FLUSH_SECONDS = env_float("DASH_CALL_COUNT_FLUSH_SECONDS", 2.0)
# The audit trail: entries and configuration versions older than this many days are pruned (0 keeps them all).
AUDIT_RETENTION_DAYS = env_int("DASH_AUDIT_RETENTION_DAYS", 365)
# Exact's error budget (10 per endpoint, division and hour blocks the key): the connector stops an endpoint
# after this many counted errors per hour, or this many in a row (then for COOLDOWN s, capped at the hour's end).
DASH_ERROR_BUDGET_PER_HOUR = env_int("DASH_ERROR_BUDGET_PER_HOUR", 5)
DASH_ERROR_BUDGET_CONSECUTIVE = env_int("DASH_ERROR_BUDGET_CONSECUTIVE", 3)
DASH_ERROR_BUDGET_COOLDOWN = env_int("DASH_ERROR_BUDGET_COOLDOWN", 3600)
DASH_ERROR_BUDGET_STATUSES = [int(s) for s in env_list("DASH_ERROR_BUDGET_STATUSES", ["400", "401", "403", "404"])]
# Routes: tasks older than this many days are pruned; a task Processing longer than this many seconds
# lost its worker and is queued again.
TASK_RETENTION_DAYS = env_int("DASH_TASK_RETENTION_DAYS", 30)
# Tasks of an Incoming run outside a route (a preview) are deleted this many hours after they were read.
PREVIEW_TASK_HOURS = env_int("DASH_PREVIEW_TASK_HOURS", 24)
# The Tasks page counts each status exactly up to this many tasks; above it shows the database's estimate.
TASK_COUNT_CAP = env_int("DASH_TASK_COUNT_CAP", 1_000)
TASK_STUCK_AFTER = env_int("DASH_TASK_STUCK_AFTER", 900)
# Inbound webhooks: the largest body a hook stores (bigger ones get 413), when a delivery still Received is
# queued again (its broker message was lost), how long deliveries are kept.
WEBHOOK_MAX_BODY_BYTES = env_int("DASH_WEBHOOK_MAX_BODY_BYTES", 5 * 1024 * 1024)
# A configuration document to import (page, command, API): larger ones are refused before they are parsed.
CONFIG_IMPORT_MAX_BYTES = env_int("DASH_CONFIG_IMPORT_MAX_BYTES", 5 * 1024 * 1024)
WEBHOOK_REQUEUE_AFTER = env_int("DASH_WEBHOOK_REQUEUE_AFTER", 60)
# A delivery Processing for longer than this (its worker died between claiming and writing: it wrote nothing) goes
# back to Received at the next sweep. A slow worker released so writes nothing: its claim is gone.
WEBHOOK_STUCK_AFTER = env_int("DASH_WEBHOOK_STUCK_AFTER", 300)
WEBHOOK_RETENTION_DAYS = env_int("DASH_WEBHOOK_RETENTION_DAYS", 30)
# Transformers: what one read entity (a task) or one tester run may make. Over a limit, that task fails with
# the reason (the run goes on) and the tester says so. The tester also stops tracing steps past TRACE_BYTES.
TRANSFORM_MAX_ENTITIES = env_int("DASH_TRANSFORM_MAX_ENTITIES", 1000)
TRANSFORM_MAX_BYTES = env_int("DASH_TRANSFORM_MAX_BYTES", 2_000_000)
TRANSFORM_MAX_SECONDS = env_float("DASH_TRANSFORM_MAX_SECONDS", 30.0)
TESTER_MAX_SECONDS = env_float("DASH_TESTER_MAX_SECONDS", 10.0)
TESTER_TRACE_BYTES = env_int("DASH_TESTER_TRACE_BYTES", 1_000_000)
# Exact Online events for one record within this many seconds cost one fetch.
EXACT_WEBHOOK_COALESCE_SECONDS = env_float("DASH_EXACT_WEBHOOK_COALESCE_SECONDS", 2.0)
# A retry that waits longer than this many seconds is not sent to the broker with a countdown (a broker holds
# such a message unacknowledged and redelivers it after its visibility timeout): it waits in the database and
# the repair job queues it once due. Kept well under Redis' visibility timeout.
TASK_MAX_COUNTDOWN = min(env_int("DASH_TASK_MAX_COUNTDOWN", 300),
                         CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600) // 2)

# Exact Online's quota limiter (exact_online/quota.py). Calls kept back from background work for people and
# lookups (Fetch sample, Test connection, HTTP lookup steps), per division per day.
EXACT_DAILY_RESERVE = env_int("DASH_EXACT_DAILY_RESERVE", 250)
# Where reservations are counted atomically: a Redis URL (default: the broker's or the cache's, when Redis),
# else the database (a row lock per division). "db" forces the database.
EXACT_QUOTA_REDIS_URL = env_str(
    "DASH_EXACT_QUOTA_REDIS_URL",
    next((u for u in (CELERY_BROKER_URL, env_str("DASH_CACHE_URL", "")) if u.startswith(("redis://", "rediss://"))),
         ""),
)
# Work that met an outage of Exact (no answer, 502/503/504, a 401 blip) tries again after this many seconds
# (jittered up to 20% more): deferred, not an attempt, and no worker sleeps (exact_online/errors.py is_outage).
EXACT_OUTAGE_WAIT = env_float("DASH_EXACT_OUTAGE_WAIT", 30.0)
# The same for a generic HTTP Client (http_connector): no answer, 408, 502, 503 or 504 without a Retry-After.
HTTP_OUTAGE_WAIT = env_float("DASH_HTTP_OUTAGE_WAIT", 30.0)
# The length of Exact's "minute" (60). Only benchmarks and tests against a sandbox with SANDBOX_TIME_SCALE
# shorten it (to 60 / scale), so that the limiter's windows match the sandbox's.
EXACT_QUOTA_MINUTE_SECONDS = env_float("DASH_EXACT_QUOTA_MINUTE_SECONDS", 60.0)

# --- The sandbox (a local Exact Online) --------------------------------------------------------
SANDBOX_DB_PATH = env_str("SANDBOX_DB_PATH", str(VAR_DIR / "sandbox.sqlite3"))
SANDBOX_TIME_SCALE = env_float("SANDBOX_TIME_SCALE", 1.0)
SANDBOX_DEMO_PASSWORD = env_secret("SANDBOX_DEMO_PASSWORD", "demo")
SANDBOX_MINUTELY_LIMIT = env_int("SANDBOX_MINUTELY_LIMIT", 60)  # calls per app per division per minute
SANDBOX_DAILY_LIMIT = env_int("SANDBOX_DAILY_LIMIT", 5000)  # calls per app per division per day
SANDBOX_TOO_EARLY_STATUS = env_int("SANDBOX_TOO_EARLY_STATUS", 400)  # observed 400; Exact's KB text says 401
SANDBOX_WEBHOOK_RETRIES = env_int("SANDBOX_WEBHOOK_RETRIES", 3)  # delivery attempts per webhook event
SANDBOX_WALL_CLOCK_TZ = env_str("SANDBOX_WALL_CLOCK_TZ", "Europe/Amsterdam")  # Exact's /Date(ms)/ wall clock
SANDBOX_TOKEN_DAILY_LIMIT = env_int("SANDBOX_TOKEN_DAILY_LIMIT", 200)  # token-endpoint calls per app per day
SANDBOX_STRICT_ACCEPT = env_bool("SANDBOX_STRICT_ACCEPT", default=False)  # 406 unless Accept: application/json
SANDBOX_ERROR_BUDGET = env_int("SANDBOX_ERROR_BUDGET", 0)  # 4xx per app/division/endpoint/hour before a block
SANDBOX_MANDATORY_FILTER = env_bool("SANDBOX_MANDATORY_FILTER", default=False)  # lists with a sync twin need $filter
SANDBOX_SHOP_RATE_LIMIT = env_int("SANDBOX_SHOP_RATE_LIMIT", 600)  # demo webshop: requests per API key per minute
SANDBOX_SHOP_PAGE_SIZE = env_int("SANDBOX_SHOP_PAGE_SIZE", 50)  # demo webshop: default ?limit=
SANDBOX_SHOP_MAX_PAGE_SIZE = env_int("SANDBOX_SHOP_MAX_PAGE_SIZE", 250)  # demo webshop: largest ?limit=
SANDBOX_URL = env_str("DASH_SANDBOX_URL", "http://127.0.0.1:8001").rstrip("/")
# Who may talk to the sandbox: Host names it answers (others get 400, against DNS rebinding), the token its
# control API wants in X-Sandbox-Token (development: generated into var/; runsandbox refuses to start
# without one in production), and the most records one generate call may create.
SANDBOX_ALLOWED_HOSTS = env_list("SANDBOX_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
SANDBOX_CONTROL_TOKEN = (
    env_secret("SANDBOX_CONTROL_TOKEN")
    if PRODUCTION
    else _dev_secret("SANDBOX_CONTROL_TOKEN", env_secret("SANDBOX_CONTROL_TOKEN"), lambda: secrets.token_urlsafe(32))
)
SANDBOX_GENERATE_MAX = env_int("SANDBOX_GENERATE_MAX", 1_000_000)

# Hosts (host or host:port) an Exact Online Base URI may name besides Exact's region hosts: the sandbox, a
# proxy. Only these may be reached over plain http or at private/loopback addresses. Empty in production
# unless set; outside production the loopback names and the sandbox's host.
EXACT_ALLOWED_HOSTS = env_list(
    "DASH_EXACT_ALLOWED_HOSTS",
    [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", urlsplit(SANDBOX_URL).netloc or "127.0.0.1"],
)

# OAuth codes and tokens in query strings never reach a log line (runserver's access log included; gunicorn
# gets the same through --logger-class config.access_log.GunicornLogger).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_query_secrets": {"()": "config.access_log.RedactQuerySecrets"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}",
                          "style": "{"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_query_secrets"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server",
                          "filters": ["redact_query_secrets"]},
    },
    "root": {"handlers": ["console"], "level": env_str("DASH_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}

# Only a proxy that sets X-Forwarded-Proto itself (and strips the client's) may tell Django a request was
# https; without one, anybody could send the header and pass as a secure request.
BEHIND_PROXY = env_bool("DASH_BEHIND_PROXY", default=False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("DASH_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DASH_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

from .beat import parse_beat_schedule  # noqa: E402

CELERY_BEAT_SCHEDULE = parse_beat_schedule(BEAT_SCHEDULE_TABLE)

# REST API (/api/v1/): requests per token and period ("120/m", "5000/h"), counted in the shared cache, and the
# longest life a personal API token may be given.
DASH_API_RATE = env_str("DASH_API_RATE", "120/m")
DASH_API_TOKEN_MAX_DAYS = env_int("DASH_API_TOKEN_MAX_DAYS", 365)
NINJA_PAGINATION_PER_PAGE = 50  # the API's lists: ?limit= defaults to 50, at most 500
NINJA_PAGINATION_MAX_LIMIT = 500
