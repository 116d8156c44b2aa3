"""Which pass of ``make test`` this is: the embedded default, or PostgreSQL and Redis
(``DATABASE_URL``, ``REDIS_URL``); marks for the tests that need the services."""

import os

import pytest


def on_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql"))


def on_redis() -> bool:
    return bool(os.environ.get("REDIS_URL"))


needs_services = pytest.mark.skipif(
    not (on_postgres() and on_redis()),
    reason="needs PostgreSQL and Redis (the services pass of make test)",
)
# Processes share events and tasks only through Redis (the in-memory layer is one process's).
needs_redis = pytest.mark.skipif(
    not on_redis(), reason="needs Redis (REDIS_URL): the in-memory layer cannot cross processes"
)
# Tests of what no database or channel layer changes (packaging, generated code) run once.
embedded_pass_only = pytest.mark.skipif(
    on_postgres() or on_redis(),
    reason="runs once, in the embedded pass (it does not depend on the database or the layer)",
)
# Tests of what only PostgreSQL does (its sessions ended by the server, its connection pool).
needs_postgres = pytest.mark.skipif(
    not on_postgres(), reason="needs PostgreSQL (DATABASE_URL, the services pass of make test)"
)
