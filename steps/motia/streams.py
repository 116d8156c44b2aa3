"""Motia's ``Stream``: ``todo_stream = Stream("todo")`` at a module's top, then
``todo_stream.set(group_id, id, item)`` in a handler.

It is the engine's Stream API (:mod:`streams.storage.store`) under Motia's names: items are
validated, stored, pushed to subscribers and run stream triggers as any change does. Each call is
plain in a plain handler and awaitable in an async one (:mod:`steps.motia.running`).

A stream used by name with no ``*_stream.py`` defining it is a stream all the same, without a
schema, as in Motia: it is registered the first time a ``Stream`` names it, and a definition of
that name, loaded before or after, takes its place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from streams.definitions import StreamConfig as EngineStreamConfig
from streams.definitions import registry
from streams.storage import store

from .ops import engine_ops
from .running import perform
from .stream_config import StreamConfig

TData = TypeVar("TData")
_list = list  # Stream.list shadows the builtin in the class body


class Stream(Generic[TData]):
    """A stream of items (dicts) by group and id, as Motia's ``Stream`` offers it."""

    def __init__(self, config: StreamConfig | EngineStreamConfig | str) -> None:
        if isinstance(config, str):
            if config not in registry:
                registry.provide(EngineStreamConfig(name=config))
            self.stream_name = config
            self.config: StreamConfig | EngineStreamConfig = StreamConfig(name=config)
        else:
            engine = config if isinstance(config, EngineStreamConfig) else config.as_stream_config()
            registry.provide(engine)
            self.stream_name = engine.name
            self.config = config

    def __repr__(self) -> str:
        return f"Stream({self.stream_name!r})"

    def _sync(self) -> store.SyncStream:
        return store.SyncStream(registry.get(self.stream_name))

    def _async(self) -> store.Stream:
        return store.Stream(registry.get(self.stream_name))

    def _what(self, method: str) -> str:
        return f"Stream({self.stream_name!r}).{method}(...)"

    def get(self, group_id: str, item_id: str) -> Any:
        """The item, or None."""
        return perform(
            lambda: self._sync().get(group_id, item_id),
            lambda: self._async().get(group_id, item_id),
            self._what("get"),
        )

    def set(self, group_id: str, item_id: str, data: TData) -> Any:
        """Store ``data`` as the item; ``{"old_value", "new_value"}``."""
        item: Any = data
        return perform(
            lambda: self._sync().set(group_id, item_id, item),
            lambda: self._async().set(group_id, item_id, item),
            self._what("set"),
        )

    def update(self, group_id: str, item_id: str, ops: _list[dict[str, Any]]) -> Any:
        """Apply update ops atomically (Motia's paths); ``{"old_value", "new_value"}``."""
        converted = engine_ops(ops)
        return perform(
            lambda: self._sync().update(group_id, item_id, converted),
            lambda: self._async().update(group_id, item_id, converted),
            self._what("update"),
        )

    def delete(self, group_id: str, item_id: str) -> Any:
        """Delete the item (nothing happens if there is none)."""

        async def delete() -> None:
            await self._async().delete(group_id, item_id)

        def delete_now() -> None:
            self._sync().delete(group_id, item_id)

        return perform(delete_now, delete, self._what("delete"))

    def get_group(self, group_id: str) -> Any:
        """The group's items, in the order they were created."""
        return perform(
            lambda: self._sync().list(group_id),
            lambda: self._async().list(group_id),
            self._what("get_group"),
        )

    list = get_group
    getGroup = get_group

    def list_groups(self) -> Any:
        """The ids of the groups that have items."""
        return perform(
            lambda: self._sync().list_groups(),
            lambda: self._async().list_groups(),
            self._what("list_groups"),
        )

    def send(self, channel: Mapping[str, Any], event: Mapping[str, Any]) -> Any:
        """Send a custom event ``{"type", "data"}`` to the subscribers of
        ``{"groupId": g}`` (or of one item, ``{"groupId": g, "id": i}``)."""
        return perform(
            lambda: self._sync().send(channel, event),
            lambda: self._async().send(channel, event),
            self._what("send"),
        )
