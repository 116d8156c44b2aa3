"""The per-process fan-out of stream events to local sockets.

Each event loop serving sockets has one :class:`Hub`. It knows which local connections watch
which stream groups, and hands each event's frame (encoded once, by the writer) to those that
want it, in the group's version order. Events reach it in one of two ways
(:mod:`streams.publishing.broadcast` chooses):

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

from ..sockets.corking import LoopCork
from ..sockets.framing import TextMessage
from . import reach
from .events import LAYER_MESSAGE_TYPE, RESYNC_MESSAGE_TYPE, StreamEvent, layer_group_name
from .sequencing import GroupSequencer

logger = logging.getLogger("streams.hub")

GroupKey = tuple[str, str]
# How long a process waits for a missing earlier event of a group before releasing later ones.
REORDER_WAIT_SECONDS = 0.05
# Seconds after which an event that never came counts as lost.
LOST_AFTER_SECONDS = 2.0


class Connection(Protocol):
    """A local socket as the hub sees it."""

    def deliver(
        self, message: dict[str, Any], key: GroupKey, item_id: str | None, version: int
    ) -> None:
        """Send a ``websocket.send`` message (shared by every socket that gets the frame) of
        the group ``key``, about its item ``item_id`` (None for the whole group), at the
        group's ``version``."""

    def resync(self, key: GroupKey) -> None:
        """Frames of the group may have been lost on the way: send fresh snapshots of what
        the socket watches in it."""


def crosses_processes(layer: Any) -> bool:
    """Whether events must travel through ``layer`` to reach every server process."""
    return layer is not None and not isinstance(layer, InMemoryChannelLayer)


class Hub:
    """The fan-out of one event loop: local subscriptions, and the layer listener if any."""

    def __init__(self, loop: asyncio.AbstractEventLoop, layer: Any) -> None:
        self.loop = loop
        # The frames each socket gets in a turn of the loop go out in one write.
        self.cork = LoopCork(loop)
        # None when events arrive directly from this process's commits.
        self.layer = layer if crosses_processes(layer) else None
        self.channel: str | None = None
        # Who watches what, with how many subscriptions: whole groups, and single items.
        self._groups: dict[GroupKey, dict[Connection, int]] = {}
        self._items: dict[GroupKey, dict[str, dict[Connection, int]]] = {}
        self._joined: set[GroupKey] = set()
        self._group_locks: dict[GroupKey, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._sequencers: dict[GroupKey, GroupSequencer[tuple[int, str | None, str]]] = {}
        # Versions the sequencers stopped waiting for, not seen since (see _check_lost).
        self._missing: dict[GroupKey, set[int]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._started = asyncio.Event()

    async def start(self) -> None:
        if self.layer is not None:
            self.channel = await self.layer.new_channel("streams.publishing.hub.")
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

    async def subscribe(self, connection: Connection, key: GroupKey, item_id: str | None) -> None:
        """Route the frames of a group (or of one of its items) to ``connection``; returns
        once the process is listening, so that a snapshot read afterwards misses nothing."""
        await self.ready()
        if item_id is None:
            watchers = self._groups.setdefault(key, {})
        else:
            watchers = self._items.setdefault(key, {}).setdefault(item_id, {})
        watchers[connection] = watchers.get(connection, 0) + 1
        if self.layer is None or key in self._joined:
            return
        async with self._group_locks[key]:
            if key not in self._joined:
                await self.layer.group_add(layer_group_name(*key), self.channel)
                self._joined.add(key)

    async def unsubscribe(self, connection: Connection, key: GroupKey, item_id: str | None) -> None:
        """Undo one :meth:`subscribe`."""
        if item_id is None:
            _forget(self._groups, key, connection)
        else:
            items = self._items.get(key, {})
            _forget(items, item_id, connection)
            if not items:
                self._items.pop(key, None)
        if self.watches(key):
            return
        self._sequencers.pop(key, None)
        if self.layer is None:
            return
        async with self._group_locks[key]:
            if self.watches(key) or key not in self._joined:
                return
            self._joined.discard(key)
            await self.layer.group_discard(layer_group_name(*key), self.channel)

    def watches(self, key: GroupKey) -> bool:
        """Whether a local socket watches the group or one of its items (callable from any
        thread: two dict lookups)."""
        return key in self._groups or key in self._items

    # --- receiving ----------------------------------------------------------------------------

    def deliver_event(self, event: StreamEvent) -> None:
        """Fan out an event committed by this process (called on the hub's loop)."""
        key = (event.stream_name, event.group_id)
        if self.watches(key):
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
            kind = message.get("type")
            if kind == LAYER_MESSAGE_TYPE:
                key = (message["s"], message["g"])
                if self.watches(key):
                    self._dispatch(key, message["v"], message["i"], message["f"])
            elif kind == RESYNC_MESSAGE_TYPE:
                self._resync((message["s"], message["g"]))

    def _dispatch(self, key: GroupKey, version: int, item_id: str | None, frame: str) -> None:
        if key in self._missing:
            self._missing[key].discard(version)  # came late, after all
        sequencer = self._sequencers.get(key)
        if sequencer is None:
            sequencer = self._sequencers[key] = GroupSequencer()
        was_waiting = sequencer.waiting
        for ready in sequencer.push(version, (version, item_id, frame)):
            self._fan_out(key, *ready)
        if sequencer.waiting and not was_waiting:
            self.loop.call_later(REORDER_WAIT_SECONDS, self._give_up_waiting, key, sequencer)

    def _give_up_waiting(self, key: GroupKey, sequencer: GroupSequencer[Any]) -> None:
        if self._sequencers.get(key) is not sequencer or not sequencer.waiting:
            return
        skipped = sequencer.gaps()
        for ready in sequencer.flush():
            self._fan_out(key, *ready)
        # A version that still has not come a while later was lost on the way (the layer was
        # down): the group's sockets re-sync then. One that comes late is delivered as usual.
        self._missing.setdefault(key, set()).update(skipped)
        self.loop.call_later(LOST_AFTER_SECONDS, self._check_lost, key, skipped)

    def _check_lost(self, key: GroupKey, skipped: set[int]) -> None:
        missing = self._missing.get(key, set())
        lost = missing & skipped
        missing -= skipped
        if not missing:
            self._missing.pop(key, None)
        if lost:
            logger.warning("%d events of %s/%s never came: re-syncing", len(lost), *key)
            self._resync(key)

    def _resync(self, key: GroupKey) -> None:
        """Every local socket watching the group, or an item of it, re-reads its snapshot."""
        watchers = set(self._groups.get(key, ()))
        for item_watchers in self._items.get(key, {}).values():
            watchers.update(item_watchers)
        for connection in watchers:
            connection.resync(key)

    def _fan_out(self, key: GroupKey, version: int, item_id: str | None, frame: str) -> None:
        reach.reached(key, version, self._audience(key, item_id))  # for traces: one call
        # One message for every socket (the ASGI server only reads it), framed once for all.
        message = TextMessage(frame)
        group = self._groups.get(key)
        if group:
            for connection in tuple(group):
                connection.deliver(message, key, item_id, version)
        if item_id is None:
            return
        watchers = self._items.get(key, {}).get(item_id)
        if watchers:
            for connection in tuple(watchers):
                if not group or connection not in group:  # one frame a socket, whatever it joined
                    connection.deliver(message, key, item_id, version)

    def _audience(self, key: GroupKey, item_id: str | None) -> int:
        """How many sockets :meth:`_fan_out` hands an event to (a count, no list made)."""
        group = self._groups.get(key) or {}
        watchers = self._items.get(key, {}).get(item_id) if item_id is not None else None
        if not watchers:
            return len(group)
        return len(group) + sum(1 for connection in watchers if connection not in group)


def _forget(watchers: dict[Any, dict[Connection, int]], key: Any, connection: Connection) -> None:
    counts = watchers.get(key)
    if counts is None or connection not in counts:
        return
    counts[connection] -= 1
    if counts[connection] <= 0:
        del counts[connection]
        if not counts:
            del watchers[key]


# --- the hubs of this process -----------------------------------------------------------------

_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}
_hubs_lock = threading.Lock()


async def get_hub() -> Hub:
    """The hub of the running event loop, started on first use."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)  # every socket asks: no lock once the loop has its hub
    if hub is not None:
        await hub.ready()
        return hub
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
