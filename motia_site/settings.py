"""Settings, read from the environment.

With no environment set, everything runs in one process on embedded defaults: SQLite, the
in-memory channel layer and an in-process Celery worker. Production sets ``DATABASE_URL``
(PostgreSQL) and ``REDIS_URL`` (channels-redis pub/sub layer and the Celery broker).
"""

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dj_database_url

from steps.conf import StepsSettings
from streams.conf import StreamsSettings
from streams.runtime import POOL_OPTIONS, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


# A variable set but blank (``DATABASE_URL=`` in a compose file or a unit) is unset: the
# default applies, as if the line were not there.
def env(name: str, default: str = "") -> str:
    """A variable's value, stripped; ``default`` when it is unset or blank."""
    return os.environ.get(name, "").strip() or default


def env_flag(name: str, default: bool = False) -> bool:
    value = env(name)
    if not value:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """A comma-separated variable as a list, blanks dropped."""
    return [v.strip() for v in env(name, default).split(",") if v.strip()]


def env_settings(names: Iterable[str]) -> dict[str, str]:
    """The settings among ``names`` that the environment sets (blank is unset), as text."""
    return {name: os.environ[name] for name in names if os.environ.get(name, "").strip()}


# --- Security -------------------------------------------------------------------------------

# On by default so that `make run` and the tests need no environment; every deployment turns it
# off, and then the server refuses to start without a secret key and host names of its own.
DEBUG = env_flag("DJANGO_DEBUG", default=True)
# Public in this repository: anyone could forge sessions and stream tokens signed with it.
DEV_SECRET_KEY = "dev-only-insecure-key-change-me-in-production"
SECRET_KEY = env("DJANGO_SECRET_KEY") or (DEV_SECRET_KEY if DEBUG else "")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")


def insecure_settings() -> list[str]:
    """Why this process must not serve with DEBUG off (empty when it may)."""
    problems = []
    if not SECRET_KEY:
        problems.append(
            "DJANGO_SECRET_KEY is not set (make one with: python -c "
            "'import secrets; print(secrets.token_urlsafe(50))')"
        )
    elif SECRET_KEY == DEV_SECRET_KEY:
        problems.append("DJANGO_SECRET_KEY is the development key published in the repository")
    if not ALLOWED_HOSTS:
        problems.append("DJANGO_ALLOWED_HOSTS is not set (the host names the site answers to)")
    return problems


if not DEBUG and insecure_settings():
    # One line, no traceback, whatever starts first: manage.py, uvicorn, celery.
    raise SystemExit("refusing to start with DJANGO_DEBUG off: " + "; ".join(insecure_settings()))

# The site is served over HTTPS only (TLS ends at the load balancer or proxy, which tells the
# scheme in X-Forwarded-Proto: uvicorn's --proxy-headers hands it to Django for the addresses
# in FORWARDED_ALLOW_IPS). On with DEBUG off; a deployment on plain HTTP turns it off.
HTTPS = env_flag("DJANGO_HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
# A year, as the HSTS preload list asks; start lower (3600) until HTTPS is known to work.
SECURE_HSTS_SECONDS = int(env("DJANGO_HSTS_SECONDS", str(31_536_000 if HTTPS else 0)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_flag("DJANGO_HSTS_PRELOAD", default=True)

INSTALLED_APPS = [
    "daphne",  # first, so that `runserver` serves HTTP and WebSocket through ASGI
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "ninja",
    "streams",
    "steps",
    # The example flows of Motia's streaming guide and the demo page: user code, written with
    # the engine.
    "examples",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "motia_site.urls"
ASGI_APPLICATION = "motia_site.asgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------

SQLITE_PATH = Path(env("SQLITE_PATH") or BASE_DIR / "var" / "db.sqlite3")
# No persistent connections (CONN_MAX_AGE=0), as Django advises under ASGI: a thread made for
# one request closes its connection when the request ends. The engine's own queries run on a
# few long-lived threads that keep theirs (streams/db.py), and PostgreSQL connections come from
# a pool, so that a process never holds more than DATABASE_POOL_SIZE of them.
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{SQLITE_PATH}"), conn_max_age=0
    )
}
DATABASE_IS_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
if DATABASE_IS_SQLITE:
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        # Writers take the lock at BEGIN, so read-modify-write never deadlocks on upgrade.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so that worker threads share it; one per test run, so that
    # concurrent runs do not collide.
    DATABASES["default"]["TEST"] = {
        "NAME": str(SQLITE_PATH.with_name(f"test-{os.getpid()}.sqlite3"))
    }
else:
    DATABASE_POOL_SIZE = int(env("DATABASE_POOL_SIZE", "10"))
    # The pool checks each connection it hands out (a round trip): one the database ended, in
    # a restart, is dropped instead of failing the request that took it.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        # Connecting again within half a second of the database coming back after an outage,
        # instead of after psycopg_pool's doubling pause (streams.runtime.liveness).
        **POOL_OPTIONS,
        "min_size": 1,
        "max_size": DATABASE_POOL_SIZE,
        # A request that finds every connection busy waits this long, then fails.
        "timeout": float(env("DATABASE_POOL_TIMEOUT", "10")),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channels -------------------------------------------------------------------------------

REDIS_URL = env("REDIS_URL")
CHANNEL_LAYERS: dict[str, dict[str, Any]]
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # The pub/sub layer: no per-channel capacity that silently drops whole events.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": env("CHANNELS_PREFIX", "motia"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            # One channel per process carries every event: the default capacity of
            # 100 would drop bursts, and the one-day group expiry would drop a long-lived server.
            "CONFIG": {"capacity": 100_000, "group_expiry": 10 * 365 * 24 * 3600},
        }
    }

# --- Celery (queue, stream and cron steps) ----------------------------------------------------

# Redis in production; otherwise an in-process broker served by a worker thread of the server.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# Acknowledge after the handler ran, and give a task back if its worker dies: nothing is lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task reserved by a worker that died is handed to another once it has been unacknowledged
# for the visibility timeout (Redis); the timeout must exceed the longest handler run plus
# retry delay. Surviving workers look for such tasks every second (kombu's default sweep
# is 10 s and scans Redis only every 10th time, so a lost task waited 100 s more).
VISIBILITY_TIMEOUT = int(env("CELERY_VISIBILITY_TIMEOUT", "300"))
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, float] = {
    "visibility_timeout": VISIBILITY_TIMEOUT,
    "unacked_restore_interval": min(1, VISIBILITY_TIMEOUT),
    "unacked_restore_throttle": 1,
}
# One queue for every step run. Deployments sharing a Redis need a database each (kombu's
# bookkeeping of unacknowledged tasks is per database, not per queue).
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", "steps")
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "celery.beat:Scheduler"  # the schedule lives in code, not in a file
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- The engine (streams, steps) ------------------------------------------------------------

# Every engine setting has its default in its app's conf.py, streams/conf.py and steps/conf.py
# (docs/configuration.md: Engine settings): this site sets only those its environment sets,
# from the variable of the same name (STREAMS_MAX_FRAME_BYTES=131072, STEPS_EMBEDDED_BEAT=0;
# blank is unset). The engine parses the text, and `manage.py check` names a value it cannot use.
globals().update(env_settings([*StreamsSettings.model_fields, *StepsSettings.model_fields]))

# --- Step endpoints -------------------------------------------------------------------------

# Request bodies larger than this (bytes) are answered 413 (Django's own setting).
DATA_UPLOAD_MAX_MEMORY_SIZE = int(env("DATA_UPLOAD_MAX_MEMORY_SIZE", "2621440"))

# --- Internationalization, static files -----------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- Logging --------------------------------------------------------------------------------

LOG_LEVEL = env("LOG_LEVEL", "INFO")
# The engine's loggers and Django's on standard error: readable lines with DEBUG on (Django's
# request lines and the reloader's messages included), JSON lines with it off (docs/logging.md).
LOGGING = logging_config(debug=DEBUG, level=LOG_LEVEL)
