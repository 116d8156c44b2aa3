"""``motia.stream_client``: Motia's Python stream client, on this engine's
(:mod:`streams.client`), which speaks the same protocol and keeps state by the same rules.

``StreamClient(url)``, ``await connect()``, ``subscribe_group(stream, group, sort_key=None)``
and ``subscribe_item(stream, group, id)``, each subscription with ``add_change_listener``,
``on_event``, ``on_close``, ``get_state`` and ``close``; ``await disconnect()`` or ``close()``.
The client reconnects and re-joins by itself (after ``reconnect_delay`` seconds at first).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streams import client as engine


@dataclass(frozen=True)
class JoinMessage:
    """What a subscription joins."""

    stream_name: str
    group_id: str
    subscription_id: str
    id: str | None = None


Listener = Callable[[Any], None]


class StreamSubscription:
    """A subscription's state and listeners, as Motia's client offers them."""

    def __init__(self, subscription: engine.GroupSubscription | engine.ItemSubscription) -> None:
        self._subscription = subscription
        self.sub = JoinMessage(
            subscription.stream_name,
            subscription.group_id,
            subscription.subscription_id,
            subscription.id,
        )
        self._change_listeners: list[Listener] = []
        self._close_listeners: list[Callable[[], None]] = []
        subscription.on("*", self._changed)

    def _changed(self, state: Any) -> None:
        shown = self.get_state()
        for listener in list(self._change_listeners):
            listener(shown)

    def add_change_listener(self, listener: Listener) -> None:
        if listener not in self._change_listeners:
            self._change_listeners.append(listener)

    def remove_change_listener(self, listener: Listener) -> None:
        if listener in self._change_listeners:
            self._change_listeners.remove(listener)

    def on_event(self, event_type: str, listener: Listener) -> None:
        self._subscription.on_event(event_type, listener)

    def off_event(self, event_type: str, listener: Listener) -> None:
        self._subscription.off_event(event_type, listener)

    def on_close(self, listener: Callable[[], None]) -> None:
        self._close_listeners.append(listener)

    def close(self) -> None:
        self._subscription.close()
        for listener in list(self._close_listeners):
            listener()
        self._close_listeners.clear()

    def get_state(self) -> Any:
        return self._subscription.get_state()


class StreamItemSubscription(StreamSubscription):
    """A subscription of one item: its state is the item, or None."""


class StreamGroupSubscription(StreamSubscription):
    """A subscription of a group: its state is the list of items, sorted by ``sort_key`` when
    one is given."""

    def __init__(self, subscription: engine.GroupSubscription, sort_key: str | None = None) -> None:
        self._sort_key = sort_key
        self._group = subscription
        super().__init__(subscription)

    def get_state(self) -> Any:
        items = self._group.get_state()
        if self._sort_key is None:
            return items
        key = self._sort_key
        return sorted(items, key=lambda item: (item.get(key) is None, item.get(key)))


class StreamClient:
    """Motia's client of a stream server (``ws://host:port``)."""

    def __init__(self, url: str, reconnect_delay: float = 2.0) -> None:
        self._client = engine.StreamClient(
            url, min_backoff=reconnect_delay, max_backoff=max(10.0, reconnect_delay)
        )
        self._closing: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        await self._client.connect()

    async def disconnect(self) -> None:
        await self._client.disconnect()

    def subscribe_item(
        self, stream_name: str, group_id: str, item_id: str
    ) -> StreamItemSubscription:
        return StreamItemSubscription(self._client.item(stream_name, group_id, item_id))

    def subscribe_group(
        self, stream_name: str, group_id: str, sort_key: str | None = None
    ) -> StreamGroupSubscription:
        return StreamGroupSubscription(self._client.group(stream_name, group_id), sort_key)

    def close(self) -> None:
        """Disconnect in the background (from a running event loop)."""
        self._closing = asyncio.get_running_loop().create_task(self._client.disconnect())
