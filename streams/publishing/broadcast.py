"""From a committed change to a published event: the whole path, in order.

1. The store sends :data:`~streams.signals.stream_changed` with the
   :class:`~streams.publishing.events.StreamEvent` of every change of a batch, in order, before the
   commit: the Stream API's batches (custom events included), the admin's edits (which go
   through the Stream API) and the items plain ORM code saves or deletes (the store turns
   each into a change of its own, :mod:`streams.storage.store`). Each event carries the frame its
   group's replay log keeps, encoded once.
2. The batch waits for the transaction to commit (``transaction.on_commit``, one hook per
   batch): nothing is published for a transaction that rolls back.
3. On commit each event is published to every server process: straight to the hubs of this
   process when the channel layer is the in-memory one (it reaches no other process),
   otherwise as one channel-layer message, sent from a publisher thread of its own so that the
   writer never waits on the layer. While the layer is unreachable, events wait there and go
   out in order when it is back, followed by a re-sync request for their groups (a server
   whose subscription to the layer was down meanwhile may have missed some). An http step
   answers once its events were handed to the layer (:func:`published`).
4. The :data:`~streams.signals.stream_event` signal announces it in the writer's process
   (the steps app runs stream-triggered steps from it).
"""

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction
from django.dispatch import receiver

from ..runtime import Handoff, Outage, lifecycle
from ..signals import stream_changed, stream_event
from .events import StreamEvent, layer_group_name, layer_message, resync_message
from .hub import GroupKey, crosses_processes, running_hubs

logger = logging.getLogger("streams.broadcast")


# --- 1. a batch of changes waits for its commit ----------------------------------------------


@receiver(stream_changed, dispatch_uid="streams.publishing.broadcast.changed")
def changed(sender: Any, events: Sequence[StreamEvent], **_: Any) -> None:
    """Publish a batch's events once the transaction that makes them commits (at once
    outside one): one commit hook per batch, whatever its number of changes."""
    if events:
        transaction.on_commit(lambda: _committed(events), robust=True)


# --- 2. on commit -----------------------------------------------------------------------------


def _committed(events: Sequence[StreamEvent]) -> None:
    # One event's failure (a layer error, a stream_event receiver that raises) must not keep
    # the rest of the batch from its subscribers.
    for event in events:
        try:
            publish(event)
            stream_event.send(sender=StreamEvent, event=event)
        except Exception:
            logger.exception("a committed stream event failed on its way out")


# --- 3. to every server process ---------------------------------------------------------------


def publish(event: StreamEvent) -> None:
    """Send a committed event to every server process; callable from any thread, it never
    waits on subscribers or on the layer."""
    layer = get_channel_layer()
    if crosses_processes(layer):
        _layer_publisher().send(layer, event)
        return
    key = (event.stream_name, event.group_id)
    for hub in running_hubs():
        # A hub that watches nothing of this group is not woken. A socket that subscribes
        # right after this check reads its snapshot after the commit: it misses nothing.
        if hub.watches(key):
            hub.loop.call_soon_threadsafe(hub.deliver_event, event)


# Seconds between attempts while the layer is unreachable (doubling), and the delays after it
# is back at which the groups whose events waited are asked to re-sync (servers re-subscribe
# to the layer on their own schedule).
RETRY_SECONDS = 0.2
MAX_RETRY_SECONDS = 5.0
RESYNC_AFTER_SECONDS = (1.0, 5.0)
# Events kept while the layer refuses them; beyond, the oldest are dropped (their groups are
# re-synced all the same once it is back).
MAX_KEPT = 100_000
# How long a stopping publisher waits for the events still waiting to be taken by the layer.
STOP_SECONDS = 5.0


class _LayerPublisher:
    """A daemon thread running an event loop that sends events to the channel layer one
    after the other, in the order they were committed, over one layer connection for the
    whole process; an event the layer refuses is tried again until it is taken."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue[tuple[Any, StreamEvent]] = asyncio.Queue()
        self.handoff = Handoff()
        self._draining = self.loop.create_task(self._drain())
        self.thread = threading.Thread(target=self._run, name="streams-publisher", daemon=True)
        self.thread.start()

    def send(self, layer: Any, event: StreamEvent) -> None:
        self.handoff.handed()
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (layer, event))

    def stop(self) -> None:
        """Send what waits (for up to ``STOP_SECONDS``), then end the thread and its loop
        (which closes the loop's layer connections)."""
        if not self.handoff.wait(STOP_SECONDS):
            logger.error("stream events not published within %g s of stopping", STOP_SECONDS)
        self.loop.call_soon_threadsafe(self._draining.cancel)
        self.thread.join(STOP_SECONDS)

    def _run(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            self.loop.run_until_complete(self._draining)
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    async def _drain(self) -> None:
        # Events the layer refused, oldest first, each already counted as attempted.
        refused: deque[tuple[Any, StreamEvent]] = deque()
        missed: set[GroupKey] = set()  # their groups, to re-sync once the layer is back
        outage = Outage(RETRY_SECONDS, MAX_RETRY_SECONDS)
        while True:
            fresh = not refused
            layer, event = await self.queue.get() if fresh else refused[0]
            try:
                await layer.group_send(
                    layer_group_name(event.stream_name, event.group_id), layer_message(event)
                )
            except Exception:
                if outage.failed():
                    logger.exception("could not publish stream events; keeping them for later")
                # Waiters (http answers) go on; the events wait here, in order.
                newly = 0
                if fresh:
                    refused.append((layer, event))
                    newly = 1
                while not self.queue.empty():
                    refused.append(self.queue.get_nowait())
                    newly += 1
                self.handoff.attempted(newly)
                missed.update((e.stream_name, e.group_id) for _, e in refused)
                self._drop_beyond_limit(refused)
                await asyncio.sleep(outage.pause)
                continue
            if fresh:
                self.handoff.attempted(1)
            else:
                refused.popleft()
            if outage.failing and not refused:
                outage.succeeded()
                logger.warning("stream events published again")
                for delay in RESYNC_AFTER_SECONDS:
                    self.loop.call_later(delay, self._ask_resync, layer, set(missed))
                missed.clear()

    @staticmethod
    def _drop_beyond_limit(refused: deque[tuple[Any, StreamEvent]]) -> None:
        excess = len(refused) - MAX_KEPT
        if excess > 0:
            for _ in range(excess):
                refused.popleft()
            logger.error(
                "%d stream events could not be published and are dropped (their groups are "
                "re-synced when the layer is back)",
                excess,
            )

    def _ask_resync(self, layer: Any, groups: set[GroupKey]) -> None:
        async def ask() -> None:
            for stream_name, group_id in groups:
                with contextlib.suppress(Exception):
                    await layer.group_send(
                        layer_group_name(stream_name, group_id),
                        resync_message(stream_name, group_id),
                    )

        self.loop.create_task(ask())


async def published() -> None:
    """Wait until the stream events this process committed so far were handed to the channel
    layer (or failed once and wait for it): at once with the in-memory layer."""
    publisher = _publisher.running
    if publisher is not None:
        await publisher.handoff.reached()


def wait_published(timeout: float) -> bool:
    """:func:`published` for a thread; False on timeout."""
    publisher = _publisher.running
    return publisher is None or publisher.handoff.wait(timeout)


# Started on the first event for the layer; stopped by streams.runtime.lifecycle.
_publisher = lifecycle.register(
    "stream-publisher", lifecycle.Stage.SEND, _LayerPublisher, _LayerPublisher.stop
)
_layer_publisher = _publisher.ensure
