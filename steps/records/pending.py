"""Rows waiting for the run recorder's next batch, and the statement that inserts a batch.

What the engine records about a trace as it happens (stream changes, enqueues, socket counts,
see :mod:`steps.records.traces`) must cost the path that causes it no more than an append to a list:
:class:`PendingRows` is that list, bounded, taken whole by the recorder's thread and written
in the same transaction as the step runs (:mod:`steps.records.runs`). The table stays bounded: the
writes prune it to its newest ``keep()`` rows now and then, by primary key (no other index).
"""

import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, connections, models

# Seconds between two prunes of a table (each costs a MAX and a range DELETE on the key).
PRUNE_SECONDS = 30.0
# Rows per INSERT at most: the parameters of one statement stay far under PostgreSQL's limit
# (65,535) however many rows waited while the database was away.
MAX_ROWS_PER_STATEMENT = 500


class PendingRows:
    """Rows of one table not written yet: appended from any thread, taken in batches.

    A row is a tuple of raw values; ``columns`` turns it into the table's column values at
    write time (off the path that appended it). Beyond ``limit`` rows (the database away for a
    long while), the oldest are dropped."""

    def __init__(
        self,
        model: type[models.Model],
        names: Sequence[str],
        columns: Callable[[tuple[Any, ...]], tuple[Any, ...]],
        limit: int,
        keep: Callable[[], int],
    ) -> None:
        self.model, self.names, self.columns, self.keep = model, tuple(names), columns, keep
        self._pruned_at = 0.0
        # deque: append and popleft are atomic, so appenders take no lock.
        self._rows: deque[tuple[Any, ...]] = deque(maxlen=limit)
        self._wake: Callable[[], None] | None = None

    def on_first(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` when a row arrives while none waits (to start the writer)."""
        self._wake = wake

    def add(self, row: tuple[Any, ...]) -> None:
        was_empty = not self._rows
        self._rows.append(row)
        if was_empty and self._wake is not None:
            self._wake()

    def __bool__(self) -> bool:
        return bool(self._rows)

    def take(self) -> list[tuple[Any, ...]]:
        """Every row waiting now, oldest first (rows added meanwhile wait for the next)."""
        taken = []
        try:
            for _ in range(len(self._rows)):
                taken.append(self._rows.popleft())
        except IndexError:  # cleared meanwhile
            pass
        return taken

    def put_back(self, rows: list[tuple[Any, ...]]) -> None:
        """Rows taken but not written: first in line again (beyond the limit, the oldest go)."""
        newer = self.take()
        self._rows.extend(rows)
        self._rows.extend(newer)

    def clear(self) -> None:
        self._rows.clear()

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert ``rows`` (as taken) in one statement; prune the table when it is time."""
        insert(self.model, self.names, [self.columns(row) for row in rows])
        if rows and time.monotonic() - self._pruned_at >= PRUNE_SECONDS:
            self.prune()

    def prune(self) -> None:
        """Delete all but the newest ``keep()`` rows of the table."""
        self._pruned_at = time.monotonic()
        table = connection.ops.quote_name(self.model._meta.db_table)
        key = connection.ops.quote_name(self.model._meta.pk.column)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX({key}) FROM {table}")
            (newest,) = cursor.fetchone()
            if newest is not None and newest > self.keep():
                cursor.execute(f"DELETE FROM {table} WHERE {key} <= %s", [newest - self.keep()])


def insert(model: type[models.Model], names: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (values of the fields ``names``) in multi-row ``INSERT`` statements, as
    few as the database's limit on parameters allows: the ORM's bulk_create compiles every
    field of every row and costs several times as much, and ``executemany`` runs the statement
    once per row (on SQLite each run hands the interpreter lock back, and waits to take it
    again while the event loop holds it)."""
    if not rows:
        return
    # The connection itself, not django.db.connection: every field's preparation reads it,
    # and through that proxy each read was a look-up of the thread's connection.
    db = connections[connection.alias]
    by_name = {field.name: field for field in model._meta.concrete_fields}
    fields = [by_name[name] for name in names]
    columns = ", ".join(db.ops.quote_name(field.column) for field in fields)
    row_placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    head = f"INSERT INTO {db.ops.quote_name(model._meta.db_table)} ({columns}) VALUES "
    # bulk_batch_size: SQLite's limit on parameters (999 in older builds).
    size = max(1, min(MAX_ROWS_PER_STATEMENT, db.ops.bulk_batch_size(fields, rows)))
    with db.cursor() as cursor:
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            params = [
                field.get_db_prep_save(value, db)
                for row in chunk
                for field, value in zip(fields, row, strict=True)
            ]
            cursor.execute(head + ", ".join([row_placeholders] * len(chunk)), params)
