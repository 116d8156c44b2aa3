"""Connections that outlive a restart or an outage of the database.

When PostgreSQL restarts (or ends its sessions with ``pg_terminate_backend``) every open
connection dies at once, but a client learns it only when it next sends a query, which fails.
The server says so as it goes, though: it writes its last message and closes the socket, and
nothing else arrives on a connection no query waits on. So a readable idle socket marks a
connection to check with a round trip, and a quiet one needs no check at all.

- The engine's database threads (:mod:`streams.runtime.db`) keep their connections for their whole
  life: before each job they drop one the database ended (:func:`drop_if_ended`), whatever the
  project's settings, and their pool's idle connections with it, ended at the same time.
- Django's own threads, and the threads of plain handlers, take a connection from the pool
  for each request or call: the pool must check it first (``CONN_HEALTH_CHECKS = True``: a
  round trip per connection taken).
- After an outage, psycopg_pool tries to connect again after a pause that doubles each time
  (connections came back 15 s after the database, after a 45 s outage): :data:`POOL_OPTIONS`
  make it try at least every :data:`RECONNECT_SECONDS` while anyone waits for a connection.

``manage.py check`` says when a pool lacks either (:func:`pool_problems`).
"""

from __future__ import annotations

import select
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from psycopg_pool import ConnectionPool

if TYPE_CHECKING:  # not imported at run time: project settings import this module
    from django.db.backends.base.base import BaseDatabaseWrapper

# Longest pause between two attempts of the pool to connect while the database is away.
RECONNECT_SECONDS = 0.5


def ended_by_server(raw: Any) -> bool:
    """Whether the server wrote to (or closed) an idle connection: it ended the session, or,
    rarely, sent a notice. A driver connection without a socket (SQLite) never is."""
    fileno = getattr(raw, "fileno", None)
    if fileno is None:
        return False
    try:
        descriptor = fileno()
    except Exception:  # a closed connection has no socket any more
        return True
    if descriptor < 0:
        return True
    poller = select.poll()
    poller.register(descriptor, select.POLLIN)
    return bool(poller.poll(0))


def reconnect_while_waited_for(pool: ConnectionPool[Any]) -> None:
    """A pool's ``reconnect_failed``: its attempts to connect gave up (after
    ``reconnect_timeout``); start again at once if anyone waits for a connection."""
    if pool.get_stats().get("requests_waiting"):
        pool.check()  # also starts growing the pool again


POOL_OPTIONS: dict[str, Any] = {
    "reconnect_timeout": RECONNECT_SECONDS,
    "reconnect_failed": reconnect_while_waited_for,
}
"""Options of a PostgreSQL pool that connects again within :data:`RECONNECT_SECONDS` of the
database coming back: ``"OPTIONS": {"pool": {**POOL_OPTIONS, "max_size": 20}}``. (Django
gives the pool its check: ``CONN_HEALTH_CHECKS = True``.)"""


def drop_if_ended(connection: BaseDatabaseWrapper) -> bool:
    """Close ``connection`` if the database ended it, so that the next query opens a fresh
    one; its pool's idle connections, ended at the same time, are dropped too. True if it
    was closed."""
    raw = connection.connection
    if raw is None or connection.in_atomic_block or not ended_by_server(raw):
        return False
    if connection.is_usable():  # the server only had something to say
        return False
    connection.close()
    pool = getattr(connection, "pool", None)
    if isinstance(pool, ConnectionPool):
        pool.check()
    return True


def pool_problems(settings_dict: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What keeps a database's PostgreSQL pool from surviving a restart of the database, as
    (check id, problem); nothing without a pool."""
    options = settings_dict.get("OPTIONS", {}).get("pool")
    if not options or not str(settings_dict.get("ENGINE", "")).endswith("postgresql"):
        return []
    options = {} if options is True else options
    problems = []
    if not settings_dict.get("CONN_HEALTH_CHECKS", False):
        problems.append(("streams.W003", "hands out connections the database ended"))
    timeout = options.get("reconnect_timeout", 300.0)
    # Past a second, the first connection after an outage may come that much later.
    if "reconnect_failed" not in options or timeout > 1:
        problems.append(
            (
                "streams.W004",
                f"connects again after a pause that doubles while the database is away "
                f"(reconnect_timeout {timeout:g} s, reconnect_failed "
                f"{'set' if 'reconnect_failed' in options else 'unset'})",
            )
        )
    return problems
