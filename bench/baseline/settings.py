"""Settings of the bare Django baseline: no apps, no middleware, the same database as ours.

``DATABASE_URL`` (PostgreSQL) or ``SQLITE_PATH``, as the benchmark sets them for our server.
SQLite gets our server's options (WAL, IMMEDIATE transactions, 30 s busy timeout).
"""

import os

import dj_database_url

DEBUG = False  # DEBUG would keep every query in memory
SECRET_KEY = "bench-baseline-not-secret"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "baseline.urls"
USE_TZ = True

if os.environ.get("DATABASE_URL"):
    # The view's one thread keeps its connection for the whole run.
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=None)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ["SQLITE_PATH"],
            "CONN_MAX_AGE": None,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
