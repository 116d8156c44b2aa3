"""The rows behind streams: the statements the Stream API runs, on the current connection.

A batch locks each of its groups once, reads each item it touches once, and writes each item
once with its final state, whatever number of changes the item took (see
:mod:`streams.storage.changes`). Plain SQL, because the ORM's query building costs several times the
statements themselves (they send no model signal: the store announces a batch's changes
itself, :mod:`streams.publishing.broadcast`). The frames of a batch's changes go to their groups'
replay logs (:mod:`streams.storage.replay`) in the same transaction, in a statement or two.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from itertools import islice
from typing import Any, NamedTuple

import orjson
from django.db import connection
from django.utils import timezone

from ..models import StreamGroup, StreamItem, StreamLogEntry
from ..publishing import StreamEvent
from . import replay
from .changes import Effect, GroupKey, GroupState, ItemKey, ItemState

_DATA = StreamItem._meta.get_field("data")
_CHUNK = 500  # item ids per IN (...) list
_LOG_CHUNK = 150  # log rows per INSERT (6 parameters each: under SQLite's old limit of 999)


@cache
def _statements() -> dict[str, str]:
    group, item = StreamGroup._meta.db_table, StreamItem._meta.db_table
    log = StreamLogEntry._meta.db_table
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return {
        # SQLite needs no row lock: a write transaction holds the whole database.
        "lock": (
            f"SELECT id, version, last_timestamp FROM {group}"
            f" WHERE stream_name = %s AND group_id = %s{lock}"
        ),
        "advance": f"UPDATE {group} SET version = %s, last_timestamp = %s, updated_at = %s"
        " WHERE id = %s",
        "find": f"SELECT id, item_id, data FROM {item} WHERE group_id = %s AND item_id IN ",
        "insert": (
            f"INSERT INTO {item} (group_id, item_id, data, timestamp, version, created_at,"
            " updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        ),
        "update": (
            f"UPDATE {item} SET data = %s, timestamp = %s, version = %s, updated_at = %s"
            " WHERE id = %s"
        ),
        "delete": f"DELETE FROM {item} WHERE id = %s",
        "log": (
            f"INSERT INTO {log} (stream_name, group_id, version, item_id, timestamp, frame) VALUES "
        ),
        "prune": f"DELETE FROM {log} WHERE stream_name = %s AND group_id = %s AND version <= %s",
        # Where a group made again (after the admin deleted it) takes up its versions.
        "log_end": (
            f"SELECT MAX(version), MAX(timestamp) FROM {log}"
            " WHERE stream_name = %s AND group_id = %s"
        ),
        # Reads. One statement each, so that a group's version and timestamp and its items
        # (or its log) come from the same snapshot of the database.
        "group_items": (
            f"SELECT g.last_timestamp, g.version, i.data FROM {group} g LEFT JOIN {item} i"
            " ON i.group_id = g.id WHERE g.stream_name = %s AND g.group_id = %s ORDER BY i.id"
        ),
        "group_item": (
            f"SELECT g.last_timestamp, g.version, i.data FROM {group} g LEFT JOIN {item} i"
            " ON i.group_id = g.id AND i.item_id = %s WHERE g.stream_name = %s AND g.group_id = %s"
        ),
        "groups": (
            f"SELECT g.group_id FROM {group} g WHERE g.stream_name = %s"
            f" AND EXISTS (SELECT 1 FROM {item} i WHERE i.group_id = g.id) ORDER BY g.group_id"
        ),
        # Pages: the rows after a position, at most ``limit`` of them looked at, cut where
        # their bytes pass ``budget`` (the first is always taken), with the group's state, in
        # one statement. Only the rows taken bring their data; the sizes are the database's.
        "items_page": (
            f"WITH g AS (SELECT id, last_timestamp, version FROM {group}"
            "  WHERE stream_name = %(stream)s AND group_id = %(group)s),"
            f" ids AS (SELECT i.id FROM {item} i WHERE i.group_id = (SELECT id FROM g)"
            "  AND i.id > %(after)s ORDER BY i.id LIMIT %(limit)s),"
            f" sized AS (SELECT ids.id, {_size('i.data', json=True)} AS size"
            f"  FROM ids JOIN {item} i ON i.id = ids.id),"
            " running AS (SELECT id, size, SUM(size) OVER (ORDER BY id) AS upto FROM sized)"
            " SELECT g.last_timestamp, g.version, r.id, i.data, r.upto FROM g"
            " LEFT JOIN running r ON 1 = 1"
            f" LEFT JOIN {item} i ON i.id = r.id AND r.upto - r.size < %(budget)s"
            " ORDER BY r.id"
        ),
        "log_page": (
            f"WITH g AS (SELECT last_timestamp, version FROM {group}"
            "  WHERE stream_name = %(stream)s AND group_id = %(group)s),"
            " entries AS (SELECT l.version, l.item_id,"
            f"  CASE WHEN {{matches}} THEN {_size('l.frame')} ELSE 0 END AS size"
            f"  FROM {log} l WHERE l.stream_name = %(stream)s AND l.group_id = %(group)s"
            "  AND l.version > %(after)s ORDER BY l.version LIMIT %(limit)s),"
            " running AS (SELECT version, item_id, size,"
            "  SUM(size) OVER (ORDER BY version) AS upto FROM entries)"
            " SELECT g.last_timestamp, g.version, r.version, r.item_id, l.frame FROM g"
            " LEFT JOIN running r ON 1 = 1"
            f" LEFT JOIN {log} l ON l.stream_name = %(stream)s AND l.group_id = %(group)s"
            " AND l.version = r.version AND r.size > 0 AND r.upto - r.size < %(budget)s"
            " ORDER BY r.version"
        ),
    }


def _size(column: str, json: bool = False) -> str:
    """SQL for the bytes of a text column (or of a JSON column as text)."""
    if connection.vendor == "postgresql":
        # A text's octet_length comes from its header, unread; JSON must be written out.
        return f"octet_length({column}::text)" if json else f"octet_length({column})"
    return f"length(CAST({column} AS BLOB))"


def _load(data: Any) -> Any:
    """An item's JSON as the database returns it (text on both backends), decoded."""
    return orjson.loads(data) if isinstance(data, str | bytes) else data


# --- reads ------------------------------------------------------------------------------------


def read_group(stream_name: str, group_id: str) -> tuple[int | None, int, list[dict[str, Any]]]:
    """A group's last timestamp (None if the group does not exist), its version and its items,
    in insertion order."""
    with connection.cursor() as cursor:
        cursor.execute(_statements()["group_items"], [stream_name, group_id])
        rows = cursor.fetchall()
    if not rows:
        return None, 0, []
    return rows[0][0], rows[0][1], [_load(data) for _, _, data in rows if data is not None]


def read_item(
    stream_name: str, group_id: str, item_id: str
) -> tuple[int | None, int, dict[str, Any] | None]:
    """A group's last timestamp (None if the group does not exist), its version and one of its
    items (None if it does not exist)."""
    with connection.cursor() as cursor:
        cursor.execute(_statements()["group_item"], [item_id, stream_name, group_id])
        row = cursor.fetchone()
    if row is None:
        return None, 0, None
    return row[0], row[1], None if row[2] is None else _load(row[2])


class ItemsPage(NamedTuple):
    """Items of a group after a position, read with the group's state in one statement."""

    timestamp: int | None  # the group's last timestamp; None when the group does not exist
    version: int
    items: list[tuple[int, Any]]  # (row, item) in insertion order
    considered: int  # rows looked at (at most the limit)
    cut: bool  # a row was left for the next page, its bytes past the budget
    bytes: int  # of the items, as the database holds them


def read_items_page(
    stream_name: str, group_id: str, after: int, limit: int, budget: int
) -> ItemsPage:
    """The items of a group after row ``after``, in insertion order: at most ``limit`` rows
    looked at, and each taken while those before it come to less than ``budget`` bytes (so
    at most ``budget`` bytes and one item)."""
    params: dict[str, str | int] = {"stream": stream_name, "group": group_id, "after": after}
    params.update(limit=limit, budget=budget)
    with connection.cursor() as cursor:
        cursor.execute(_statements()["items_page"], params)
        rows = cursor.fetchall()
    if not rows:
        return ItemsPage(None, 0, [], 0, False, 0)
    considered = [row for row in rows if row[2] is not None]
    taken = [row for row in considered if row[3] is not None]
    items = [(pk, _load(data)) for _, _, pk, data, _ in taken]
    size = taken[-1][4] if taken else 0
    cut = len(items) < len(considered)
    return ItemsPage(rows[0][0], rows[0][1], items, len(considered), cut, size)


class LogPage(NamedTuple):
    """Rows of a group's replay log after a version, read with the group's state in one
    statement."""

    timestamp: int | None  # the group's last timestamp; None when the group does not exist
    version: int
    # Every row looked at, in order, up to the first left for the next page; the frame only
    # for the rows of the item asked for (all rows when none was).
    entries: list[replay.LogEntry]
    considered: int


def read_log_page(
    stream_name: str, group_id: str, after: int, item_id: str | None, limit: int, budget: int
) -> LogPage:
    """A group's log rows after version ``after``: at most ``limit`` looked at, and no more
    than ``budget`` bytes of the frames of ``item_id`` (of the whole group when None), or
    the first alone when larger."""
    matches = "1 = 1" if item_id is None else "l.item_id = %(item)s"
    params: dict[str, str | int | None] = {"stream": stream_name, "group": group_id}
    params.update(after=after, item=item_id, limit=limit, budget=budget)
    with connection.cursor() as cursor:
        cursor.execute(_statements()["log_page"].format(matches=matches), params)
        rows = cursor.fetchall()
    if not rows:
        return LogPage(None, 0, [], 0)
    entries = []
    considered = [row for row in rows if row[2] is not None]
    for _, _, version, item, frame in considered:
        if frame is None and (item_id is None or item == item_id):
            break  # a frame of its own past the budget: this page ends before it
        entries.append(replay.LogEntry(version, item, frame))
    return LogPage(rows[0][0], rows[0][1], entries, len(considered))


def read_group_ids(stream_name: str) -> list[str]:
    """The groups of a stream that have items."""
    with connection.cursor() as cursor:
        cursor.execute(_statements()["groups"], [stream_name])
        return [group_id for (group_id,) in cursor.fetchall()]


# --- writes -----------------------------------------------------------------------------------


def _now() -> Any:
    return connection.ops.adapt_datetimefield_value(timezone.now())


def lock_groups(keys: Iterable[GroupKey], create: set[GroupKey]) -> dict[GroupKey, GroupState]:
    """Lock each group (in key order, so that concurrent batches never deadlock), creating
    those in ``create`` that do not exist yet; groups that do not exist and are not to be
    created are left out."""
    sql, groups = _statements()["lock"], {}
    with connection.cursor() as cursor:
        for key in sorted(keys):
            cursor.execute(sql, list(key))
            row = cursor.fetchone()
            if row is None and key in create:
                # A group made again goes on from its last logged version and timestamp, so
                # that a client's version never names a change of the group's earlier life.
                cursor.execute(_statements()["log_end"], list(key))
                version, timestamp = cursor.fetchone()
                # Two writers may create the same group at once: one insert wins.
                StreamGroup.objects.bulk_create(
                    [
                        StreamGroup(
                            stream_name=key[0],
                            group_id=key[1],
                            version=version or 0,
                            last_timestamp=timestamp or 0,
                        )
                    ],
                    ignore_conflicts=True,
                )
                cursor.execute(sql, list(key))
                row = cursor.fetchone()
            if row is not None:
                groups[key] = GroupState(*row)
    return groups


def load_items(
    groups: Mapping[GroupKey, GroupState], keys: Iterable[ItemKey]
) -> dict[ItemKey, ItemState]:
    """The current row of each item (absent ones included, with no data)."""
    wanted: dict[GroupKey, list[str]] = {}
    for stream_name, group_id, item_id in keys:
        wanted.setdefault((stream_name, group_id), []).append(item_id)
    items: dict[ItemKey, ItemState] = {}
    with connection.cursor() as cursor:
        for group_key, item_ids in wanted.items():
            for item_id in item_ids:
                items[(*group_key, item_id)] = ItemState(None, None)
            group = groups.get(group_key)
            if group is None:
                continue
            for chunk in _chunks(item_ids):
                placeholders = ", ".join(["%s"] * len(chunk))
                cursor.execute(f"{_statements()['find']}({placeholders})", [group.pk, *chunk])
                for pk, item_id, data in cursor.fetchall():
                    items[(*group_key, item_id)] = ItemState(pk, _load(data))
    return items


def _chunks(values: list[str]) -> Iterator[list[str]]:
    iterator = iter(values)
    while chunk := list(islice(iterator, _CHUNK)):
        yield chunk


def write(
    effects: list[Effect],
    groups: Mapping[GroupKey, GroupState],
    items: Mapping[ItemKey, ItemState],
) -> None:
    """Write the groups and items as ``effects`` left them."""
    statements, now = _statements(), _now()
    with connection.cursor() as cursor:
        for key in dict.fromkeys(effect.change.group_key for effect in effects):
            group = groups[key]
            cursor.execute(
                statements["advance"], [group.version, group.last_timestamp, now, group.pk]
            )
        by_item: dict[ItemKey, list[Effect]] = {}
        for effect in effects:
            if effect.change.kind != "send":
                by_item.setdefault(effect.change.item_key, []).append(effect)
        for item_key, item_effects in by_item.items():
            group = groups[(item_key[0], item_key[1])]
            _write_item(cursor, group, item_key, items[item_key], item_effects, now)


def _write_item(
    cursor: Any,
    group: GroupState,
    key: ItemKey,
    state: ItemState,
    effects: list[Effect],
    now: Any,
) -> None:
    """Bring one item's row to its final state in as few statements as its changes allow."""
    statements = _statements()
    start_pk = state.pk  # the row read at the start (planning changes the data, not the pk)
    row: str | None = "start" if start_pk is not None else None  # which row holds the item now
    for effect in effects:
        if effect.new is None:  # a delete: of the row there at the start, or of one not written
            if row == "start":
                cursor.execute(statements["delete"], [start_pk])
            row = None
        else:
            row = row or "new"
    last = effects[-1]
    if row == "start":
        stored = _DATA.get_db_prep_save(last.new, connection)
        cursor.execute(statements["update"], [stored, last.timestamp, last.version, now, start_pk])
    elif row == "new":
        stored = _DATA.get_db_prep_save(last.new, connection)
        cursor.execute(
            statements["insert"], [group.pk, key[2], stored, last.timestamp, last.version, now, now]
        )


def log_events(events: list[StreamEvent], before: Mapping[GroupKey, int]) -> None:
    """Add the frames of a batch's events to their groups' replay logs, and prune each group
    whose version crossed a pruning step; ``before`` is each group's version before the batch.
    A few statements a batch, whatever its number of changes."""
    size = replay.log_size()
    if size <= 0 or not events:
        return
    statements = _statements()
    rows = [(e.stream_name, e.group_id, e.version, e.item_id, e.timestamp, e.frame) for e in events]
    after: dict[GroupKey, int] = {}
    for event in events:
        after[(event.stream_name, event.group_id)] = event.version
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _LOG_CHUNK):
            chunk = rows[start : start + _LOG_CHUNK]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(statements["log"] + values, [v for row in chunk for v in row])
        for key, version in after.items():
            below = replay.prune_below(size, before.get(key, 0), version)
            if below is not None:
                cursor.execute(statements["prune"], [key[0], key[1], below])
