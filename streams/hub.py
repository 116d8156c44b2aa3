"""The per-process fan-out of stream events (DESIGN §9).

Each server process has one :class:`Hub` on its event loop. The hub owns one channel-layer
channel and adds it to a layer group per stream group that any local socket subscribes to, so
an event costs one layer message per process, not one per subscriber. Arriving frames, encoded
once by the writer, are handed to each local connection that wants them.
"""

import asyncio
import hashlib
import logging
import threading
from collections import defaultdict
from typing import Any, Protocol

from channels.layers import InMemoryChannelLayer, get_channel_layer

from .events import StreamEvent
from .sequencing import GroupSequencer

logger = logging.getLogger("streams.hub")

GroupKey = tuple[str, str]
MESSAGE_TYPE = "streams.event"
# How long a process waits for a missing earlier event of a group before releasing later ones.
REORDER_WAIT_SECONDS = 0.05


def layer_group_name(key: GroupKey) -> str:
    """A channel-layer group name for a stream group (layer names allow few characters)."""
    digest = hashlib.blake2b("\x00".join(key).encode(), digest_size=16).hexdigest()
    return f"streams.{digest}"


def layer_message(event: StreamEvent) -> dict[str, Any]:
    return {
        "type": MESSAGE_TYPE,
        "s": event.stream_name,
        "g": event.group_id,
        "i": event.item_id,
        "v": event.version,
        "f": event.frame,
    }


class Connection(Protocol):
    """A local socket as the hub sees it."""

    def accepts(self, key: GroupKey, item_id: str | None) -> bool: ...

    def deliver(self, frame: str) -> None: ...


class Hub:
    """The process's single listener on the channel layer, fanning frames out locally."""

    def __init__(self, loop: asyncio.AbstractEventLoop, layer: Any) -> None:
        self.loop = loop
        self.layer = layer
        self.channel: str | None = None
        self._members: dict[GroupKey, set[Connection]] = defaultdict(set)
        self._joined: set[GroupKey] = set()
        self._group_locks: dict[GroupKey, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._sequencers: dict[GroupKey, GroupSequencer[tuple[str | None, str]]] = {}
        self._outgoing: asyncio.Queue[StreamEvent] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._started = asyncio.Event()

    async def start(self) -> None:
        self.channel = await self.layer.new_channel("streams.hub.")
        self._tasks = [
            self.loop.create_task(self._read(), name="streams-hub-reader"),
            self.loop.create_task(self._publish(), name="streams-hub-publisher"),
        ]
        self._started.set()

    async def ready(self) -> None:
        await self._started.wait()

    async def stop(self) -> None:
        # The Redis pub/sub layer cleans up a cancelled receive by unsubscribing, which can wait
        # on a lock forever; cancelling again ends that wait.
        for _ in range(3):
            pending = [task for task in self._tasks if not task.done()]
            if not pending:
                return
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=1)

    # --- subscriptions ------------------------------------------------------------------------

    async def subscribe(self, connection: Connection, key: GroupKey) -> None:
        """Route the group's frames to ``connection``; returns once the process is listening,
        so that a snapshot read afterwards misses nothing."""
        await self.ready()
        self._members[key].add(connection)
        async with self._group_locks[key]:
            if key not in self._joined:
                await self.layer.group_add(layer_group_name(key), self.channel)
                self._joined.add(key)

    async def unsubscribe(self, connection: Connection, key: GroupKey) -> None:
        members = self._members.get(key)
        if members is None:
            return
        members.discard(connection)
        if members:
            return
        async with self._group_locks[key]:
            if self._members.get(key) or key not in self._joined:
                return
            del self._members[key]
            self._joined.discard(key)
            self._sequencers.pop(key, None)
            await self.layer.group_discard(layer_group_name(key), self.channel)

    def subscriber_count(self, key: GroupKey) -> int:
        return len(self._members.get(key, ()))

    # --- publishing ---------------------------------------------------------------------------

    def publish_nowait(self, event: StreamEvent) -> None:
        """Queue an event for the layer; events leave in the order they were queued."""
        self._outgoing.put_nowait(event)

    async def _publish(self) -> None:
        while True:
            event = await self._outgoing.get()
            key = (event.stream_name, event.group_id)
            try:
                await self.layer.group_send(layer_group_name(key), layer_message(event))
            except Exception:
                logger.exception("could not publish a stream event", extra={"fields": {}})

    # --- receiving ----------------------------------------------------------------------------

    async def _read(self) -> None:
        assert self.channel is not None
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("channel layer receive failed; retrying")
                await asyncio.sleep(0.5)
                continue
            if message.get("type") == MESSAGE_TYPE:
                self._on_message(message)

    def _on_message(self, message: dict[str, Any]) -> None:
        key = (message["s"], message["g"])
        if key not in self._members:
            return
        sequencer = self._sequencers.get(key)
        if sequencer is None:
            sequencer = self._sequencers[key] = GroupSequencer()
        was_waiting = sequencer.waiting
        for item_id, frame in sequencer.push(message["v"], (message["i"], message["f"])):
            self._fan_out(key, item_id, frame)
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


# --- the process's hub ------------------------------------------------------------------------

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


def _running_hub() -> Hub | None:
    with _hubs_lock:
        for loop, hub in reversed(_hubs.items()):
            if loop.is_running() and not loop.is_closed():
                return hub
    return None


class _BackgroundPublisher:
    """A daemon thread with its own event loop, for processes with no server loop (workers,
    management commands) and for a server whose loop is stopping: publishing never waits on
    the caller's loop, and the layer keeps one connection instead of one per event."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="streams-publisher", daemon=True
        )
        self.thread.start()

    def publish(self, event: StreamEvent) -> None:
        layer = get_channel_layer()
        if layer is None or isinstance(layer, InMemoryChannelLayer):
            return  # an in-memory layer reaches only this process's hub, and none is running
        key = (event.stream_name, event.group_id)
        asyncio.run_coroutine_threadsafe(
            layer.group_send(layer_group_name(key), layer_message(event)), self.loop
        ).add_done_callback(_log_failure)


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("could not publish a stream event", exc_info=future.exception())


_background: _BackgroundPublisher | None = None


def publish(event: StreamEvent) -> None:
    """Send a committed event to every server process; callable from any thread, never blocks
    on subscribers."""
    global _background
    hub = _running_hub()
    if hub is not None:
        hub.loop.call_soon_threadsafe(hub.publish_nowait, event)
        return
    with _hubs_lock:
        if _background is None:
            _background = _BackgroundPublisher()
    _background.publish(event)


async def reset_hubs() -> None:
    """Stop every hub (for tests that start a fresh event loop per test)."""
    with _hubs_lock:
        hubs = list(_hubs.values())
        _hubs.clear()
    for hub in hubs:
        if hub.loop is asyncio.get_running_loop():
            await hub.stop()
