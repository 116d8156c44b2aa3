"""SQLite's WAL checkpoints, taken off the database thread by a thread of their own.

In WAL mode a commit appends its pages to the ``-wal`` file, and every thousand pages the
connection that commits copies them back into the database file and syncs both files to disk
(a checkpoint). On SQLite the engine has one database thread (:mod:`streams.runtime.db`): at
200 writes a second it committed ~2,600 pages a second and checkpointed twice a second, a few
milliseconds each, while every change and join behind it waited: 12% of its time.

So the database thread's connections leave checkpoints to this thread
(``PRAGMA wal_autocheckpoint`` raised to :data:`WRITER_CHECKPOINT_PAGES`, a bound for when this
thread cannot keep up), which runs a ``PASSIVE`` checkpoint every :data:`CHECKPOINT_SECONDS`
on a connection of its own: SQLite lets it copy pages while the writer goes on appending,
outside the interpreter lock. Commits stay as durable as ``PRAGMA synchronous`` makes them;
only who copies the pages back changes. Not for PostgreSQL, nor a SQLite database that is not
in WAL mode.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.signals import connection_created

from ..conf import is_sqlite
from . import lifecycle

logger = logging.getLogger("streams.checkpoints")

# Seconds between two checkpoints.
CHECKPOINT_SECONDS = 0.5
# The WAL pages after which the database thread's own commit checkpoints after all (SQLite's
# default is 1,000): ~80 MiB of WAL, reached only if this thread stopped or fell behind.
WRITER_CHECKPOINT_PAGES = 20_000

_thread = threading.local()


def leave_checkpoints_to_the_checkpointer() -> None:
    """Mark the calling thread as one whose SQLite connections do not checkpoint (called by
    each database thread as it starts), and start the checkpointer."""
    if is_sqlite(settings.DATABASES):
        _thread.writer = True
        service.ensure()


def _writer_connected(sender: Any, connection: Any, **_: Any) -> None:
    """``connection_created`` receiver: a database thread's connection to the default database
    (SQLite: the checkpointer started only then) leaves its checkpoints to the checkpointer,
    which checkpoints that database alone."""
    if getattr(_thread, "writer", False) and connection.alias == DEFAULT_DB_ALIAS:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_PAGES}")


connection_created.connect(_writer_connected, dispatch_uid="streams.checkpoints")


def checkpoint() -> tuple[int, int, int] | None:
    """One ``PASSIVE`` checkpoint of the default database, on this thread's connection:
    (busy, frames in the WAL, frames copied back), None when the database is not in WAL
    mode."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        busy, frames, copied = cursor.fetchone()
    if frames < 0:  # -1: not in WAL mode
        return None
    return int(busy), int(frames), int(copied)


def _run(stopping: threading.Event) -> None:
    try:
        while not stopping.wait(CHECKPOINT_SECONDS):
            try:
                if checkpoint() is None:
                    return  # a rollback journal: nothing to checkpoint, ever
            except Exception:
                # The database away, or busy: the writer's own bound still holds; try again.
                logger.debug("checkpoint failed", exc_info=True)
                connections[DEFAULT_DB_ALIAS].close()
    finally:
        connections.close_all()


def _start() -> lifecycle.LoopThread:
    return lifecycle.LoopThread(_run, "streams-checkpoints")


service = lifecycle.register(
    "checkpoints",
    lifecycle.Stage.CHECKPOINT,
    _start,
    lifecycle.LoopThread.stop,
    alive=lifecycle.LoopThread.is_alive,
)
