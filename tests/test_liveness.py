"""Connections the database ended, found before they are used (``streams.runtime.liveness``): the
test of an idle socket, the engine's database threads replacing connections a restart ended, and
what ``manage.py check`` says of a PostgreSQL pool that would not survive one."""

import socket
import sqlite3
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings

from streams.conf import engine_settings
from streams.runtime import db
from streams.runtime.liveness import POOL_OPTIONS, ended_by_server, pool_problems
from tests.helpers.passes import needs_postgres
from tests.helpers.waiting import eventually
from tests.test_settings_checks import check

# --- the test of an idle connection -----------------------------------------------------------


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, server = socket.socketpair()
    with ours, server:
        yield ours, server


def test_a_quiet_connection_was_not_ended(sockets: tuple[socket.socket, socket.socket]) -> None:
    ours, _ = sockets
    assert not ended_by_server(ours)


def test_a_connection_the_server_wrote_to_or_closed_may_have_been_ended(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    ours, server = sockets
    server.sendall(b"E")  # PostgreSQL's last words: an ErrorResponse (FATAL, 57P01)
    assert ended_by_server(ours)
    ours.recv(1)
    server.close()
    assert ended_by_server(ours)


def test_a_closed_connection_or_one_without_a_socket() -> None:
    closed, other = socket.socketpair()
    closed.close()
    other.close()
    assert ended_by_server(closed)
    with sqlite3.connect(":memory:") as sqlite:
        assert not ended_by_server(sqlite)  # SQLite: no server to end it


# --- what a pool needs -----------------------------------------------------------------------

POSTGRES = "django.db.backends.postgresql"


def test_a_pool_with_health_checks_and_the_engines_options_survives_restarts() -> None:
    pool = {"max_size": 4, **POOL_OPTIONS}
    settings_dict = {"ENGINE": POSTGRES, "CONN_HEALTH_CHECKS": True, "OPTIONS": {"pool": pool}}
    assert pool_problems(settings_dict) == []


def test_a_pool_of_psycopgs_defaults_does_not() -> None:
    settings_dict = {"ENGINE": POSTGRES, "OPTIONS": {"pool": True}}
    assert [code for code, _ in pool_problems(settings_dict)] == ["streams.W003", "streams.W004"]
    pool = {**POOL_OPTIONS, "reconnect_timeout": 30}
    problems = pool_problems(
        {"ENGINE": POSTGRES, "CONN_HEALTH_CHECKS": True, "OPTIONS": {"pool": pool}}
    )
    assert problems == [
        (
            "streams.W004",
            "connects again after a pause that doubles while the database is away "
            "(reconnect_timeout 30 s, reconnect_failed set)",
        )
    ]


def test_without_a_pool_there_is_nothing_to_say() -> None:
    assert pool_problems({"ENGINE": POSTGRES, "OPTIONS": {}}) == []
    assert pool_problems({"ENGINE": "django.db.backends.sqlite3", "OPTIONS": {}}) == []


def test_manage_py_check_names_the_pool_and_what_it_lacks() -> None:
    databases = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
        "reports": {"ENGINE": POSTGRES, "NAME": "reports", "OPTIONS": {"pool": {"max_size": 4}}},
    }
    with (
        pytest.warns(UserWarning, match="DATABASES"),
        override_settings(DATABASES=databases),
    ):
        report = check()
    assert (
        '(streams.W003) the connection pool of database "reports" hands out connections the '
        "database ended" in report
    )
    assert '(streams.W004) the connection pool of database "reports" connects again' in report
    assert "HINT: Set CONN_HEALTH_CHECKS = True and give the pool" in report
    assert '"default"' not in report


# --- the engine's database threads -----------------------------------------------------------


def _backend() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_database_threads_replace_the_connections_a_restart_ended() -> None:
    """Every thread holds a connection; the server ends them all (as a restart does); the next
    job of every thread runs on a fresh connection instead of failing."""
    jobs = 4 * engine_settings.STREAMS_DB_THREADS
    before = {future.result(10) for future in [db.call(_backend) for _ in range(jobs)]}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )

    def ended() -> bool:  # as after a restart: the sessions are gone, not on their way out
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [list(before)]
            )
            return cursor.fetchone()[0] == 0

    eventually(ended, "the sessions ended", 10, interval=0.02)
    futures: list[Future[Any]] = [db.call(_backend) for _ in range(jobs)]
    after = {future.result(10) for future in futures}
    assert not before & after, "a job ran on a connection the server had ended"
