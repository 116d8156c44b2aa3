"""On SQLite in WAL mode the database thread's commits are copied back into the database file
by the checkpointer's thread, not by the commits themselves."""

import sqlite3
from collections.abc import Callable

import pytest
from django.db import connection

from streams import StreamConfig
from streams.runtime import checkpoints, db
from streams.storage.store import Stream
from tests.helpers.passes import on_postgres
from tests.helpers.waiting import eventually_async

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(on_postgres(), reason="SQLite's write-ahead log (the embedded pass)"),
]

ITEMS = 40
WAIT = 10.0  # seconds: the checkpointer runs every CHECKPOINT_SECONDS


def _autocheckpoint() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        (pages,) = cursor.fetchone()
    return int(pages)


def items_in_the_database_file(group_id: str) -> int:
    """The items of ``group_id`` in the database file itself, the WAL left aside (as after a
    crash that lost it): only what a checkpoint copied back is there."""
    path = connection.settings_dict["NAME"]
    with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as raw:
        if not raw.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'streams_streamitem'"
        ).fetchone():
            return 0  # the tables themselves are still in the WAL
        (count,) = raw.execute(
            "SELECT COUNT(*) FROM streams_streamitem JOIN streams_streamgroup"
            " ON streams_streamitem.group_id = streams_streamgroup.id"
            " WHERE streams_streamgroup.group_id = ?",
            [group_id],
        ).fetchone()
    return int(count)


async def test_the_database_thread_leaves_checkpoints_to_the_checkpointer(
    define_stream: Callable[..., StreamConfig],
) -> None:
    notes = Stream(define_stream("notes"))
    for n in range(ITEMS):
        await notes.set("checkpointed", f"note-{n}", {"text": "x" * 500})
    assert await db.run(_autocheckpoint) == checkpoints.WRITER_CHECKPOINT_PAGES
    assert await eventually_async(
        lambda: items_in_the_database_file("checkpointed") == ITEMS,
        "the items copied into the database file",
        WAIT,
    )


def test_other_threads_keep_sqlites_default() -> None:
    assert _autocheckpoint() == 1000
