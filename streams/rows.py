"""The statements behind every stream change, one each, on the current connection.

The Stream API changes rows with plain SQL rather than ``Model.save()`` and ``delete()``,
whose query building costs several times the statement itself. So that a change still reaches
everything that listens to the model, :func:`save_item` and :func:`delete_item` send the
model's signals exactly as ``save()`` and ``delete()`` do (``pre_save``/``post_save``,
``pre_delete``/``post_delete``): the broadcast (:mod:`streams.broadcast`) hears a Stream API
write as it hears any other save.

Every function expects to run inside the transaction of one change, after :func:`lock_group`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connection
from django.db.models import signals
from django.utils import timezone

from .events import now_ms
from .models import StreamGroup, StreamItem


@cache
def _statements() -> dict[str, str]:
    group, item = StreamGroup._meta.db_table, StreamItem._meta.db_table
    return {
        # One statement locks the group (the lock orders its changes until the transaction
        # ends) and gives the change its version and a timestamp of max(now, last + 1).
        "advance": (
            f"UPDATE {group} SET version = version + 1,"
            " last_timestamp = CASE WHEN %s > last_timestamp THEN %s ELSE last_timestamp + 1 END,"
            " updated_at = %s WHERE stream_name = %s AND group_id = %s"
            " RETURNING id, version, last_timestamp"
        ),
        "find": f"SELECT id, data FROM {item} WHERE group_id = %s AND item_id = %s",
        "insert": (
            f"INSERT INTO {item} (group_id, item_id, data, timestamp, version, created_at,"
            " updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id"
        ),
        "update": (
            f"UPDATE {item} SET data = %s, timestamp = %s, version = %s, updated_at = %s"
            " WHERE id = %s"
        ),
        "delete": f"DELETE FROM {item} WHERE id = %s",
    }


_DATA = StreamItem._meta.get_field("data")


def _now() -> Any:
    return connection.ops.adapt_datetimefield_value(timezone.now())


def lock_group(stream_name: str, group_id: str) -> StreamGroup:
    """Lock a group (creating it if needed) and advance it: the returned group's ``version``
    and ``last_timestamp`` are those of the change being made."""
    now, sql = now_ms(), _statements()["advance"]
    with connection.cursor() as cursor:
        for _ in range(2):
            cursor.execute(sql, [now, now, _now(), stream_name, group_id])
            row = cursor.fetchone()
            if row is not None:
                group = StreamGroup(
                    pk=row[0],
                    stream_name=stream_name,
                    group_id=group_id,
                    version=row[1],
                    last_timestamp=row[2],
                )
                group._state.adding = False
                group._state.db = connection.alias
                return group
            # Two writers may create the same group at once: one insert wins, both then lock it.
            StreamGroup.objects.bulk_create(
                [StreamGroup(stream_name=stream_name, group_id=group_id)], ignore_conflicts=True
            )
    raise RuntimeError(f"stream group {stream_name}/{group_id} vanished while being written")


def find_item(group: StreamGroup, item_id: str) -> tuple[int, Any] | None:
    """``(pk, data)`` of an item of a locked group, or None."""
    with connection.cursor() as cursor:
        cursor.execute(_statements()["find"], [group.pk, item_id])
        row = cursor.fetchone()
    if row is None:
        return None
    return row[0], _DATA.from_db_value(row[1], None, connection)


def save_item(group: StreamGroup, item_id: str, pk: int | None, data: Any) -> StreamItem:
    """Insert the item (``pk`` None) or replace row ``pk``, stamped with the group's change."""
    item = StreamItem(
        pk=pk,
        group=group,
        item_id=item_id,
        data=data,
        timestamp=group.last_timestamp,
        version=group.version,
    )
    created = pk is None
    signals.pre_save.send(
        sender=StreamItem, instance=item, raw=False, using=connection.alias, update_fields=None
    )
    stored = _DATA.get_db_prep_save(data, connection)
    now = _now()
    with connection.cursor() as cursor:
        if created:
            cursor.execute(
                _statements()["insert"],
                [group.pk, item_id, stored, item.timestamp, item.version, now, now],
            )
            item.pk = cursor.fetchone()[0]
        else:
            cursor.execute(_statements()["update"], [stored, item.timestamp, item.version, now, pk])
    item._state.adding = False
    item._state.db = connection.alias
    signals.post_save.send(
        sender=StreamItem,
        instance=item,
        created=created,
        update_fields=None,
        raw=False,
        using=connection.alias,
    )
    return item


def delete_item(group: StreamGroup, item_id: str, pk: int, data: Any) -> StreamItem:
    """Delete row ``pk``; the deleted item carries the group's change (its old data)."""
    item = StreamItem(
        pk=pk,
        group=group,
        item_id=item_id,
        data=data,
        timestamp=group.last_timestamp,
        version=group.version,
    )
    item._state.adding = False
    item._state.db = connection.alias
    signals.pre_delete.send(sender=StreamItem, instance=item, using=connection.alias, origin=item)
    with connection.cursor() as cursor:
        cursor.execute(_statements()["delete"], [pk])
    signals.post_delete.send(sender=StreamItem, instance=item, using=connection.alias, origin=item)
    return item
