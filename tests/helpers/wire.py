"""The stream socket's wire, as raw clients in the tests speak it: Motia's join message, the
next frame (or the next of a kind) with a bound on the wait, and a subscriber that records
every frame of one subscription in the background.

``join_message`` serves Channels' ``WebsocketCommunicator`` (``communicator`` connects one to
the project's application) as well as a real socket; the rest speaks to a ``websockets``
client connection.
"""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import websockets
from channels.testing import WebsocketCommunicator

from tests.helpers.waiting import What, eventually_async

Frame = dict[str, Any]


@contextlib.asynccontextmanager
async def communicator(path: str = "/") -> AsyncIterator[WebsocketCommunicator]:
    """A socket of the project's application, connected, over Channels' communicator."""
    from motia_site.asgi import application

    comm = WebsocketCommunicator(application, path)
    connected, _ = await comm.connect()
    assert connected
    try:
        yield comm
    finally:
        await comm.disconnect()


def join_message(
    stream: str,
    group: str,
    item: str | None = None,
    *,
    subscription: str | None = None,
    kind: str = "join",
    extra: Mapping[str, object] | None = None,
) -> Frame:
    """``{"type": "join", "data": {...}}`` for a group (or one of its items); a fresh
    ``subscriptionId`` unless given; ``extra`` adds to the data (``{"sinceVersion": 3}``).
    ``kind="leave"`` makes the matching leave."""
    data: dict[str, Any] = {
        "streamName": stream,
        "groupId": group,
        "subscriptionId": subscription if subscription is not None else str(uuid.uuid4()),
    }
    if item is not None:
        data["id"] = item
    return {"type": kind, "data": {**data, **(extra or {})}}


async def join(
    ws: websockets.ClientConnection,
    stream: str,
    group: str,
    item: str | None = None,
    *,
    subscription: str | None = None,
) -> dict[str, Any]:
    """Send a join (see :func:`join_message`); return its data."""
    message = join_message(stream, group, item, subscription=subscription)
    await ws.send(json.dumps(message))
    return dict(message["data"])


async def recv_frame(ws: websockets.ClientConnection, timeout: float) -> Frame:
    """The next frame, decoded; fails the test if none comes within ``timeout`` s."""
    try:
        text = await asyncio.wait_for(ws.recv(), timeout)
    except TimeoutError:
        pytest.fail(f"no frame within {timeout}s")
    return dict(json.loads(text))


async def next_event(ws: websockets.ClientConnection, kind: str, timeout: float) -> Frame:
    """The next frame whose event is of ``kind`` (``sync``, ``create``, ...), skipping others;
    each frame must come within ``timeout`` s."""
    while True:
        frame = await recv_frame(ws, timeout)
        if frame["event"]["type"] == kind:
            return frame


@dataclass
class Subscriber:
    """A raw client joined to one group or item: ``sync`` is the frame that answered the join,
    ``frames`` every frame since, as they come."""

    ws: websockets.ClientConnection
    sync: Frame
    frames: list[Frame] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for text in self.ws:
                self.frames.append(json.loads(text))

    def events(self, kind: str) -> list[Frame]:
        """The frames of one event type."""
        return [frame for frame in self.frames if frame["event"]["type"] == kind]

    def ids(self, kind: str) -> set[str]:
        """The item ids of the frames of one event type."""
        return {frame["id"] for frame in self.events(kind)}

    async def wait_until(self, check: Callable[[], Any], what: What, timeout: float) -> None:
        """Wait until ``check()`` holds; fail saying ``what`` (and how many frames came), or at
        once if the socket closed."""

        def told() -> str:
            return f"{what() if callable(what) else what}; {len(self.frames)} frames"

        def holds() -> Any:
            if not check() and self.reader is not None and self.reader.done():
                pytest.fail(f"the socket closed, not {told()}")
            return check()

        await eventually_async(holds, told, timeout)


@contextlib.asynccontextmanager
async def subscribed(
    url: str, stream: str, group: str, item: str | None = None, *, timeout: float
) -> AsyncIterator[Subscriber]:
    """Join ``stream``/``group`` (or one item) on a new socket, wait for the sync, and record
    the frames that follow until the block ends."""
    async with websockets.connect(url, max_size=None, open_timeout=timeout) as ws:
        await join(ws, stream, group, item)
        sync = await recv_frame(ws, timeout)
        assert sync["event"]["type"] == "sync", sync
        subscriber = Subscriber(ws, sync)
        subscriber.reader = reader = asyncio.create_task(subscriber.read())
        try:
            yield subscriber
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
