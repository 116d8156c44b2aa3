"""The per-process fan-out of stream events to local sockets.

Each event loop serving sockets has one :class:`Hub`. It knows which local connections watch
which stream groups, and hands each event's frame (encoded once, by the writer) to those that
want it, in the group's version order. Events reach it in one of two ways
(:mod:`streams.broadcast` chooses):

- from this process's own commits, directly, when the channel layer is the in-memory one
  (it reaches no other process, so going through it would only cost time);
- from the channel layer otherwise (Redis): the hub has one layer channel, added to one layer
  group per stream group that any local socket watches, so an event costs one layer message
  per process, not one per subscriber.
"""

import asyncio
import logging
import threading
from collections import defaultdict
from typing import Any, Protocol

from channels.layers import InMemoryChannelLayer, get_channel_layer

from .events import LAYER_MESSAGE_TYPE, StreamEvent, layer_group_name
from .sequencing import GroupSequencer

logger = logging.getLogger("streams.hub")

GroupKey = tuple[str, str]
# How long a process waits for a missing earlier event of a group before releasing later ones.
REORDER_WAIT_SECONDS = 0.05


class Connection(Protocol):
    """A local socket as the hub sees it."""

    def accepts(self, key: GroupKey, item_id: str | None) -> bool: ...

    def deliver(self, frame: str) -> None: ...


def crosses_processes(layer: Any) -> bool:
    """Whether events must travel through ``layer`` to reach every server process."""
    return layer is not None and not isinstance(layer, InMemoryChannelLayer)


class Hub:
    """The fan-out of one event loop: local subscriptions, and the layer listener if any."""

    def __init__(self, loop: asyncio.AbstractEventLoop, layer: Any) -> None:
        self.loop = loop
        # None when events arrive directly from this process's commits.
        self.layer = layer if crosses_processes(layer) else None
        self.channel: str | None = None
        self._members: dict[GroupKey, set[Connection]] = defaultdict(set)
        self._joined: set[GroupKey] = set()
        self._group_locks: dict[GroupKey, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._sequencers: dict[GroupKey, GroupSequencer[tuple[str | None, str]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._started = asyncio.Event()

    async def start(self) -> None:
        if self.layer is not None:
            self.channel = await self.layer.new_channel("streams.hub.")
            self._reader = self.loop.create_task(self._read(), name="streams-hub-reader")
        self._started.set()

    async def ready(self) -> None:
        await self._started.wait()

    async def stop(self) -> None:
        # The Redis pub/sub layer cleans up a cancelled receive by unsubscribing, which can wait
        # on a lock forever; cancelling again ends that wait.
        for _ in range(3):
            if self._reader is None or self._reader.done():
                return
            self._reader.cancel()
            await asyncio.wait([self._reader], timeout=1)

    # --- subscriptions ------------------------------------------------------------------------

    async def subscribe(self, connection: Connection, key: GroupKey) -> None:
        """Route the group's frames to ``connection``; returns once the process is listening,
        so that a snapshot read afterwards misses nothing."""
        await self.ready()
        self._members[key].add(connection)
        if self.layer is None or key in self._joined:
            return
        async with self._group_locks[key]:
            if key not in self._joined:
                await self.layer.group_add(layer_group_name(*key), self.channel)
                self._joined.add(key)

    async def unsubscribe(self, connection: Connection, key: GroupKey) -> None:
        members = self._members.get(key)
        if members is None:
            return
        members.discard(connection)
        if members:
            return
        if self.layer is None:
            del self._members[key]
            self._sequencers.pop(key, None)
            return
        async with self._group_locks[key]:
            if self._members.get(key) or key not in self._joined:
                return
            del self._members[key]
            self._joined.discard(key)
            self._sequencers.pop(key, None)
            await self.layer.group_discard(layer_group_name(*key), self.channel)

    # --- receiving ----------------------------------------------------------------------------

    def deliver_event(self, event: StreamEvent) -> None:
        """Fan out an event committed by this process (called on the hub's loop)."""
        key = (event.stream_name, event.group_id)
        if key in self._members:
            self._dispatch(key, event.version, event.item_id, event.frame)

    async def _read(self) -> None:
        assert self.layer is not None and self.channel is not None
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("channel layer receive failed; retrying")
                await asyncio.sleep(0.5)
                continue
            if message.get("type") != LAYER_MESSAGE_TYPE:
                continue
            key = (message["s"], message["g"])
            if key in self._members:
                self._dispatch(key, message["v"], message["i"], message["f"])

    def _dispatch(self, key: GroupKey, version: int, item_id: str | None, frame: str) -> None:
        sequencer = self._sequencers.get(key)
        if sequencer is None:
            sequencer = self._sequencers[key] = GroupSequencer()
        was_waiting = sequencer.waiting
        for ready_item_id, ready_frame in sequencer.push(version, (item_id, frame)):
            self._fan_out(key, ready_item_id, ready_frame)
        if sequencer.waiting and not was_waiting:
            self.loop.call_later(REORDER_WAIT_SECONDS, self._give_up_waiting, key, sequencer)

    def _give_up_waiting(self, key: GroupKey, sequencer: GroupSequencer[Any]) -> None:
        if self._sequencers.get(key) is not sequencer:
            return
        for item_id, frame in sequencer.flush():
            self._fan_out(key, item_id, frame)

    def _fan_out(self, key: GroupKey, item_id: str | None, frame: str) -> None:
        for connection in tuple(self._members.get(key, ())):
            if connection.accepts(key, item_id):
                connection.deliver(frame)


# --- the hubs of this process -----------------------------------------------------------------

_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}
_hubs_lock = threading.Lock()


async def get_hub() -> Hub:
    """The hub of the running event loop, started on first use."""
    loop = asyncio.get_running_loop()
    with _hubs_lock:
        for other in [other for other in _hubs if other.is_closed()]:
            del _hubs[other]
        hub = _hubs.get(loop)
        created = hub is None
        if hub is None:
            hub = _hubs[loop] = Hub(loop, get_channel_layer())
    if created:
        await hub.start()
    else:
        await hub.ready()
    return hub


def running_hubs() -> list[Hub]:
    """The hubs whose loops are running (a server process has one)."""
    with _hubs_lock:
        return [hub for loop, hub in _hubs.items() if loop.is_running()]


async def reset_hubs() -> None:
    """Stop every hub (for tests that start a fresh event loop per test)."""
    with _hubs_lock:
        hubs = list(_hubs.values())
        _hubs.clear()
    for hub in hubs:
        if hub.loop is asyncio.get_running_loop():
            await hub.stop()
