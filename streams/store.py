"""The Stream API: reading and changing stream items in the database.

Every change runs in one transaction that first locks its group's row and advances the
group's version and timestamp: the lock orders the group's changes, so concurrent updates of
an item never lose a write, and each change gets a strictly increasing timestamp. The
statements are in :mod:`streams.rows`; the model signals they send publish the change on
commit (:mod:`streams.broadcast`). The functions here are synchronous;
:class:`Stream` is the async face used by handlers (its calls run on the database threads of
:mod:`streams.db`) and :class:`SyncStream` the sync one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypedDict

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef

from . import db, rows
from .broadcast import emit
from .config import StreamConfig, StreamValidationError
from .events import StreamEvent
from .models import StreamGroup, StreamItem
from .ops import apply_ops
from .registry import StreamRegistry, registry

MAX_KEY_LENGTH = 255


class SetResult(TypedDict):
    old_value: dict[str, Any] | None
    new_value: dict[str, Any]


class DeleteResult(TypedDict):
    old_value: dict[str, Any] | None


def check_key(kind: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{kind} must be a non-empty string")
    if len(value) > MAX_KEY_LENGTH:
        raise ValueError(f"{kind} is longer than {MAX_KEY_LENGTH} characters")
    return value


def prepare_item(config: StreamConfig, item_id: str, data: Any) -> dict[str, Any]:
    """Validate an item against its stream and give it its ``id`` (clients match on it)."""
    if isinstance(data, Mapping):
        if data.get("id") is None:
            data = {"id": item_id, **data}
        elif data["id"] != item_id:
            raise StreamValidationError(
                config.name,
                [{"loc": ["id"], "msg": f"must equal the item id {item_id!r}", "type": "id"}],
            )
    item = config.validate(data)
    limit = settings.STREAMS["MAX_ITEM_BYTES"]
    if len(orjson.dumps(item)) > limit:
        raise StreamValidationError(
            config.name, [{"loc": [], "msg": f"item is larger than {limit} bytes", "type": "size"}]
        )
    return item


def write_item(
    config: StreamConfig,
    group_id: str,
    item_id: str,
    make_new: Callable[[dict[str, Any] | None], dict[str, Any]],
) -> SetResult:
    """Replace an item with ``make_new(old_item)`` (an item already prepared with
    :func:`prepare_item`) in one transaction that holds the group's lock."""
    check_key("group id", group_id)
    check_key("item id", item_id)
    with transaction.atomic():
        group = rows.lock_group(config.name, group_id)
        found = rows.find_item(group, item_id)
        old = found[1] if found is not None else None
        new = make_new(old)
        rows.save_item(group, item_id, found[0] if found is not None else None, new)
    return {"old_value": old, "new_value": new}


def set_item(config: StreamConfig, group_id: str, item_id: str, data: Any) -> SetResult:
    check_key("item id", item_id)
    new = prepare_item(config, item_id, data)
    return write_item(config, group_id, item_id, lambda _old: new)


def update_item(
    config: StreamConfig, group_id: str, item_id: str, ops: Iterable[Mapping[str, Any]]
) -> SetResult:
    return write_item(
        config, group_id, item_id, lambda old: prepare_item(config, item_id, apply_ops(old, ops))
    )


def delete_item(config: StreamConfig, group_id: str, item_id: str) -> DeleteResult:
    check_key("group id", group_id)
    check_key("item id", item_id)
    with transaction.atomic():
        if not StreamGroup.objects.filter(stream_name=config.name, group_id=group_id).exists():
            return {"old_value": None}
        group = rows.lock_group(config.name, group_id)
        found = rows.find_item(group, item_id)
        if found is None:
            # Nothing to delete: undo the advance, so that no version goes without an event.
            transaction.set_rollback(True)
            return {"old_value": None}
        rows.delete_item(group, item_id, *found)
    return {"old_value": found[1]}


def send_event(config: StreamConfig, channel: Mapping[str, Any], event: Mapping[str, Any]) -> None:
    """Send a custom event to a group's subscribers (and an item's, with ``id``); stores nothing."""
    group_id = check_key("groupId", channel.get("groupId", channel.get("group_id")))
    item_id = channel.get("id")
    if item_id is not None:
        check_key("id", item_id)
    if not isinstance(event, Mapping) or not isinstance(event.get("type"), str):
        raise ValueError("an event must be an object with a string 'type'")
    payload = {"type": event["type"], "data": event.get("data")}
    orjson.dumps(payload)  # fail here, not at broadcast, on data that is not JSON
    with transaction.atomic():
        group = rows.lock_group(config.name, group_id)
        emit(
            StreamEvent(
                type="event",
                stream_name=config.name,
                group_id=group_id,
                item_id=item_id,
                data=payload,
                timestamp=group.last_timestamp,
                version=group.version,
            )
        )


def get_item(config: StreamConfig, group_id: str, item_id: str) -> dict[str, Any] | None:
    item = (
        StreamItem.objects.filter(
            group__stream_name=config.name, group__group_id=group_id, item_id=item_id
        )
        .values_list("data", flat=True)
        .first()
    )
    return item


def list_items(config: StreamConfig, group_id: str) -> list[dict[str, Any]]:
    return list(
        StreamItem.objects.filter(group__stream_name=config.name, group__group_id=group_id)
        .order_by("id")
        .values_list("data", flat=True)
    )


def list_groups(config: StreamConfig) -> list[str]:
    has_items = Exists(StreamItem.objects.filter(group=OuterRef("pk")))
    return list(
        StreamGroup.objects.filter(has_items, stream_name=config.name)
        .order_by("group_id")
        .values_list("group_id", flat=True)
    )


def snapshot(stream_name: str, group_id: str, item_id: str | None) -> tuple[int, Any]:
    """What a new subscriber starts from: ``(timestamp, items or item)``.

    The timestamp is the group's last one, read *before* the items: any change not in the
    snapshot then has a greater timestamp and is not dropped by the client after the sync.
    """
    last = (
        StreamGroup.objects.filter(stream_name=stream_name, group_id=group_id)
        .values_list("last_timestamp", flat=True)
        .first()
    )
    items = StreamItem.objects.filter(group__stream_name=stream_name, group__group_id=group_id)
    if item_id is None:
        data: Any = list(items.order_by("id").values_list("data", flat=True))
    else:
        data = items.filter(item_id=item_id).values_list("data", flat=True).first()
    # 1, not 0, for a group never written: clients drop a frame whose timestamp is not above
    # 0 (the last they saw), and every real change is stamped with the wall clock, far above 1.
    return last or 1, data


class SyncStream:
    """One stream's API for synchronous code."""

    def __init__(self, config: StreamConfig) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name

    def get(self, group_id: str, id: str) -> dict[str, Any] | None:
        return get_item(self.config, group_id, id)

    def set(self, group_id: str, id: str, data: Mapping[str, Any]) -> SetResult:
        return set_item(self.config, group_id, id, data)

    def update(self, group_id: str, id: str, ops: Iterable[Mapping[str, Any]]) -> SetResult:
        return update_item(self.config, group_id, id, ops)

    def delete(self, group_id: str, id: str) -> DeleteResult:
        return delete_item(self.config, group_id, id)

    def list(self, group_id: str) -> list[dict[str, Any]]:
        return list_items(self.config, group_id)

    def list_groups(self) -> list[str]:
        return list_groups(self.config)

    def send(self, channel: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        send_event(self.config, channel, event)


def _in_thread(method: Callable[..., Any]) -> Callable[..., Any]:
    """The async twin of a SyncStream method: the same call, run off the event loop."""

    async def run(self: Stream, *args: Any) -> Any:
        return await db.run(method, self._sync, *args)

    run.__name__ = method.__name__
    run.__doc__ = method.__doc__
    return run


class Stream:
    """One stream's API for async code: ``await ctx.streams.todo.set("todos", id, item)``."""

    def __init__(self, config: StreamConfig) -> None:
        self.config = config
        self._sync = SyncStream(config)

    @property
    def name(self) -> str:
        return self.config.name

    get = _in_thread(SyncStream.get)
    set = _in_thread(SyncStream.set)
    update = _in_thread(SyncStream.update)
    delete = _in_thread(SyncStream.delete)
    list = _in_thread(SyncStream.list)
    list_groups = _in_thread(SyncStream.list_groups)
    send = _in_thread(SyncStream.send)


class Streams:
    """``ctx.streams``: every defined stream by name, as ``ctx.streams.todo`` or
    ``ctx.streams["todo"]``; async by default, synchronous for sync handlers."""

    def __init__(self, *, sync: bool = False, streams: StreamRegistry | None = None) -> None:
        self._registry = streams or registry
        self._sync = sync

    def __getitem__(self, name: str) -> Stream | SyncStream:
        config = self._registry.get(name)
        return SyncStream(config) if self._sync else Stream(config)

    def __getattr__(self, name: str) -> Stream | SyncStream:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __contains__(self, name: object) -> bool:
        return name in self._registry

    def __dir__(self) -> list[str]:
        return self._registry.names()
