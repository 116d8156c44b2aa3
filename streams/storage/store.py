"""The Stream API: reading and changing stream items in the database.

A change is a :class:`~streams.storage.changes.Change`; :func:`apply_changes` applies a list of
them in one transaction that locks each group once (the lock orders a group's changes, so concurrent
updates of an item never lose a write) and gives each change its group's next version and a
strictly increasing timestamp. What a batch does is pure logic (:mod:`streams.storage.changes`), the
statements are in :mod:`streams.storage.sql`, each change's frame goes to its group's replay log in
the same transaction (:mod:`streams.storage.replay`), and the batch's events, in order, go out with
the :data:`~streams.signals.stream_changed` signal before the commit, to be published once
it commits (:mod:`streams.publishing.broadcast`).

Items saved or deleted by plain ORM code take the same road, each a change of its own
(:mod:`streams.storage.model_writes`).

:class:`SyncStream` applies each call on its own, in the caller's thread and transaction.
:class:`Stream`, the async face handlers use, reads on a database thread (:mod:`streams.runtime.db`)
and commits its changes in batches with the changes other callers make meanwhile
(:mod:`streams.storage.batching`).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypedDict

import orjson
from django.db import transaction

from ..conf import engine_settings
from ..definitions import StreamConfig, StreamRegistry, StreamValidationError, key_problem, registry
from ..publishing import ChangeType, StreamEvent, current_trace_id, now_ms
from ..runtime import db
from ..signals import stream_changed
from . import sql
from .batching import WriteBatcher
from .changes import (
    Change,
    ChangeKind,
    Effect,
    GroupKey,
    GroupState,
    ItemKey,
    ItemState,
    Outcome,
    plan,
)


class SetResult(TypedDict):
    old_value: dict[str, Any] | None
    new_value: dict[str, Any]


class DeleteResult(TypedDict):
    old_value: dict[str, Any] | None


class StreamKeyError(ValueError):
    """A group or item id the store cannot hold (:func:`~streams.definitions.keys.key_problem`):
    not a string, empty, too long, or with a character the database refuses. Nothing was changed.
    ``kind`` names the key (``"group id"``, ``"item id"``)."""

    def __init__(self, kind: str, problem: str, stream_name: str | None = None) -> None:
        self.kind = kind
        self.problem = problem
        self.stream_name = stream_name
        super().__init__(f"{kind} {problem}")


def check_key(kind: str, value: Any, stream_name: str | None = None) -> str:
    problem = key_problem(value)
    if problem is not None:
        raise StreamKeyError(kind, problem, stream_name)
    key: str = value  # a string, as key_problem found
    return key


def _nul_locations(value: Any, loc: list[str | int]) -> Iterator[list[str | int]]:
    """Where NUL characters are in a JSON value: the keys and strings holding one."""
    if isinstance(value, str):
        if "\x00" in value:
            yield loc
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                yield [*loc, key]
            yield from _nul_locations(item, [*loc, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_locations(item, [*loc, index])


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
    encoded = orjson.dumps(item)
    limit = engine_settings.STREAMS_MAX_ITEM_BYTES
    if len(encoded) > limit:
        raise StreamValidationError(
            config.name, [{"loc": [], "msg": f"item is larger than {limit} bytes", "type": "size"}]
        )
    # PostgreSQL's jsonb refuses NUL (\u0000) in strings and keys, SQLite keeps it: refuse it
    # on both, before the database sees it. The escape in the encoding is the cheap first test.
    if b"\\u0000" in encoded:
        errors = [
            {"loc": loc, "msg": "must not contain the NUL character (\\u0000)", "type": "nul"}
            for loc in _nul_locations(item, [])
        ]
        if errors:
            raise StreamValidationError(config.name, errors)
    return item


def _change(
    kind: ChangeKind, config: StreamConfig, group_id: Any, item_id: Any, value: Any = None
) -> Change:
    """A checked change: keys valid, a ``set`` item prepared, a ``send`` event well formed."""
    check_key("group id", group_id, config.name)
    if kind == "send":
        if item_id is not None:
            check_key("id", item_id, config.name)
        if not isinstance(value, Mapping) or not isinstance(value.get("type"), str):
            raise ValueError("an event must be an object with a string 'type'")
        value = {"type": value["type"], "data": value.get("data")}
        try:
            orjson.dumps(value)  # fail here, not at broadcast, on data that is not JSON
        except TypeError as error:
            raise StreamValidationError(
                config.name, [{"loc": ["event"], "msg": f"not JSON: {error}", "type": "json"}]
            ) from None
    else:
        check_key("item id", item_id, config.name)
    if kind == "set":
        value = prepare_item(config, item_id, value)
    return Change(kind, config.name, group_id, item_id, value, current_trace_id.get())


def _prepare(stream_name: str, item_id: str, data: Any) -> dict[str, Any]:
    return prepare_item(registry.get(stream_name), item_id, data)


# Reads the items a batch changes, once their groups are locked.
LoadItems = Callable[[Mapping[GroupKey, GroupState], Iterable[ItemKey]], dict[ItemKey, ItemState]]


def apply_changes(
    changes: Sequence[Change], load_items: LoadItems = sql.load_items
) -> list[Outcome]:
    """Apply changes in order in one transaction (nested in the caller's, if any): each
    group is locked once and each item read and written once. A change that cannot apply
    (a bad op, an item its schema refuses) is an outcome, not an exception; a database error
    raises and rolls the whole batch back. ``load_items`` reads the items' rows (the ORM's
    writes tell them instead, :mod:`streams.storage.model_writes`)."""
    with transaction.atomic():
        keys = {change.group_key for change in changes}
        create = {change.group_key for change in changes if change.kind != "delete"}
        groups = sql.lock_groups(keys, create)
        before = {key: group.version for key, group in groups.items()}
        item_keys = {c.item_key for c in changes if c.kind != "send" and c.group_key in groups}
        items = load_items(groups, item_keys)
        # Only deletes can name a group that does not exist: they have nothing to delete.
        present = [change for change in changes if change.group_key in groups]
        result = plan(present, groups, items, _prepare, now_ms())
        effects = result.effects
        sql.write(effects, groups, items)
        events = [_event(effect) for effect in effects]
        sql.log_events(events, before)
        # The whole batch, in order, to the broadcast (and whoever else listens), which
        # waits for the commit: the events are the ones just logged, frames and all.
        stream_changed.send(sender=StreamEvent, events=events)
    outcomes = iter(result.outcomes)
    return [next(outcomes) if c.group_key in groups else {"old_value": None} for c in changes]


def _event(effect: Effect) -> StreamEvent:
    """The event of one change: what its frame says, logged and published."""
    change = effect.change
    kind: ChangeType
    if change.kind == "send":
        kind, data = "event", change.value
    elif effect.new is None:
        kind, data = "delete", effect.old
    else:
        kind, data = ("create" if effect.old is None else "update"), effect.new
    return StreamEvent(
        type=kind,
        stream_name=change.stream_name,
        group_id=change.group_id,
        item_id=change.item_id,
        data=data,
        timestamp=effect.timestamp,
        version=effect.version,
        trace_id=change.trace_id,
    )


def answer(outcome: Outcome) -> Any:
    """What a Stream API call returns for its change's outcome (or raises)."""
    if isinstance(outcome, Exception):
        raise outcome
    if isinstance(outcome, Effect):
        return outcome.result
    return outcome


def _apply_one(change: Change) -> Any:
    return answer(apply_changes([change])[0])


def set_item(config: StreamConfig, group_id: str, item_id: str, data: Any) -> SetResult:
    result: SetResult = _apply_one(_change("set", config, group_id, item_id, data))
    return result


def update_item(
    config: StreamConfig, group_id: str, item_id: str, ops: Iterable[Mapping[str, Any]]
) -> SetResult:
    result: SetResult = _apply_one(_change("update", config, group_id, item_id, list(ops)))
    return result


def delete_item(config: StreamConfig, group_id: str, item_id: str) -> DeleteResult:
    result: DeleteResult = _apply_one(_change("delete", config, group_id, item_id))
    return result


def send_event(config: StreamConfig, channel: Mapping[str, Any], event: Mapping[str, Any]) -> None:
    """Send a custom event to a group's subscribers (and an item's, with ``id``); stores nothing."""
    group_id = channel.get("groupId", channel.get("group_id"))
    _apply_one(_change("send", config, group_id, channel.get("id"), event))


def get_item(config: StreamConfig, group_id: str, item_id: str) -> dict[str, Any] | None:
    # No item can have a key the store refuses (and PostgreSQL errors on a NUL in a query).
    if key_problem(group_id) or key_problem(item_id):
        return None
    return sql.read_item(config.name, group_id, item_id)[2]


def list_items(config: StreamConfig, group_id: str) -> list[dict[str, Any]]:
    if key_problem(group_id):
        return []
    return sql.read_group(config.name, group_id)[2]


def list_groups(config: StreamConfig) -> list[str]:
    return sql.read_group_ids(config.name)


def snapshot(stream_name: str, group_id: str, item_id: str | None) -> tuple[int, int, Any]:
    """What a new subscriber starts from: ``(timestamp, version, items or item)``, read in one
    statement, so that any change not in the snapshot has a greater timestamp and version (and
    is not dropped by the client after the sync)."""
    data: list[dict[str, Any]] | dict[str, Any] | None
    if item_id is None:
        last, version, data = sql.read_group(stream_name, group_id)
    else:
        last, version, data = sql.read_item(stream_name, group_id, item_id)
    return group_timestamp(last), version, data


def group_timestamp(last: int | None) -> int:
    """The timestamp of a frame that answers a join: the group's last one; 1, not 0, for a
    group never written: clients drop a frame whose timestamp is not above 0 (the last they
    saw), and every real change is stamped with the wall clock, far above 1."""
    return last or 1


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

    def list_groups(self) -> builtins.list[str]:  # (``list`` is the method above)
        return list_groups(self.config)

    def send(self, channel: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        send_event(self.config, channel, event)


def _in_thread(method: Callable[..., Any]) -> Callable[..., Any]:
    """The async twin of a SyncStream read: the same call, run on a database thread."""

    async def run(self: Stream, *args: Any) -> Any:
        return await db.run(method, self._sync, *args)

    run.__name__ = method.__name__
    run.__doc__ = method.__doc__
    return run


_batcher = WriteBatcher(apply_changes)


class Stream:
    """One stream's API for async code: ``await ctx.streams.todo.set("todos", id, item)``.

    Reads run on a database thread; changes are committed in batches with the changes other
    callers make meanwhile (:mod:`streams.storage.batching`), and each call returns once its own
    change is committed."""

    def __init__(self, config: StreamConfig) -> None:
        self.config = config
        self._sync = SyncStream(config)

    @property
    def name(self) -> str:
        return self.config.name

    async def _commit(self, change: Change) -> Any:
        return answer(await _batcher.submit(change))

    async def set(self, group_id: str, id: str, data: Mapping[str, Any]) -> SetResult:
        result: SetResult = await self._commit(_change("set", self.config, group_id, id, data))
        return result

    async def update(self, group_id: str, id: str, ops: Iterable[Mapping[str, Any]]) -> SetResult:
        change = _change("update", self.config, group_id, id, list(ops))
        result: SetResult = await self._commit(change)
        return result

    async def delete(self, group_id: str, id: str) -> DeleteResult:
        result: DeleteResult = await self._commit(_change("delete", self.config, group_id, id))
        return result

    async def send(self, channel: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        group_id = channel.get("groupId", channel.get("group_id"))
        await self._commit(_change("send", self.config, group_id, channel.get("id"), event))

    get = _in_thread(SyncStream.get)
    list = _in_thread(SyncStream.list)
    list_groups = _in_thread(SyncStream.list_groups)


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
