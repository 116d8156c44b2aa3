"""The Stream API: reading and changing stream items in the database.

Every change runs in one transaction that locks the group row (which orders the group's
changes and gives each a strictly increasing timestamp) and the item row (so concurrent
updates never lose a write). Broadcasting happens on commit, from the model signals
(:mod:`streams.broadcast`). The functions here are synchronous; :class:`Stream` is the async
face used by handlers and :class:`SyncStream` the sync one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypedDict

import orjson
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction

from .broadcast import emit
from .config import StreamConfig, StreamValidationError
from .events import StreamEvent, next_timestamp, now_ms
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


def _lock_group(stream_name: str, group_id: str, *, create: bool) -> StreamGroup | None:
    locked = StreamGroup.objects.select_for_update()
    group = locked.filter(stream_name=stream_name, group_id=group_id).first()
    if group is None and create:
        # Two writers may create the same group at once: one insert wins, both then lock it.
        StreamGroup.objects.bulk_create(
            [StreamGroup(stream_name=stream_name, group_id=group_id)], ignore_conflicts=True
        )
        group = locked.get(stream_name=stream_name, group_id=group_id)
    return group


def _advance(group: StreamGroup) -> tuple[int, int]:
    """Give the next change of a locked group its timestamp and version."""
    group.last_timestamp = next_timestamp(group.last_timestamp, now_ms())
    group.version += 1
    group.save(update_fields=["last_timestamp", "version", "updated_at"])
    return group.last_timestamp, group.version


def write_item(
    config: StreamConfig,
    group_id: str,
    item_id: str,
    make_new: Callable[[dict[str, Any] | None], dict[str, Any]],
) -> SetResult:
    """Replace an item with ``make_new(old_item)`` (validated) in one locked transaction."""
    check_key("group id", group_id)
    check_key("item id", item_id)
    with transaction.atomic():
        group = _lock_group(config.name, group_id, create=True)
        assert group is not None
        item = StreamItem.objects.select_for_update().filter(group=group, item_id=item_id).first()
        old = item.data if item is not None else None
        new = prepare_item(config, item_id, make_new(old))
        timestamp, version = _advance(group)
        if item is None:
            item = StreamItem(group=group, item_id=item_id)
        item.data, item.timestamp, item.version = new, timestamp, version
        item.save()
    return {"old_value": old, "new_value": new}


def set_item(config: StreamConfig, group_id: str, item_id: str, data: Any) -> SetResult:
    check_key("item id", item_id)
    new = prepare_item(config, item_id, data)
    return write_item(config, group_id, item_id, lambda _old: new)


def update_item(
    config: StreamConfig, group_id: str, item_id: str, ops: Iterable[Mapping[str, Any]]
) -> SetResult:
    return write_item(config, group_id, item_id, lambda old: apply_ops(old, ops))


def delete_item(config: StreamConfig, group_id: str, item_id: str) -> DeleteResult:
    check_key("group id", group_id)
    check_key("item id", item_id)
    with transaction.atomic():
        group = _lock_group(config.name, group_id, create=False)
        if group is None:
            return {"old_value": None}
        item = StreamItem.objects.select_for_update().filter(group=group, item_id=item_id).first()
        if item is None:
            return {"old_value": None}
        item.timestamp, item.version = _advance(group)
        item.delete()
    return {"old_value": item.data}


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
        group = _lock_group(config.name, group_id, create=True)
        assert group is not None
        timestamp, version = _advance(group)
        emit(
            StreamEvent(
                type="event",
                stream_name=config.name,
                group_id=group_id,
                item_id=item_id,
                data=payload,
                timestamp=timestamp,
                version=version,
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
    return list(
        StreamGroup.objects.filter(stream_name=config.name, items__isnull=False)
        .order_by("group_id")
        .values_list("group_id", flat=True)
        .distinct()
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
        return await database_sync_to_async(method)(self._sync, *args)

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
