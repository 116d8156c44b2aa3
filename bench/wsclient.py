"""A lean RFC 6455 client for the benchmarks, so that the client is never the bottleneck.

One ``asyncio.Protocol`` per socket; unmasked server frames are parsed straight from the
buffer, with no task or future per message. :class:`WebSocketProtocol` does the handshake and
the framing; :class:`StreamSubscriber` speaks Motia's stream protocol: it joins one group as
soon as the socket is open, resolves ``synced`` at the sync frame and hands every other frame
to :meth:`StreamSubscriber.on_event`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
import uuid
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import orjson

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CLOSE_NORMAL = (1000).to_bytes(2, "big")


def encode_client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked, final client frame (clients must mask, RFC 6455 §5.3)."""
    length = len(payload)
    if length < 126:
        header = bytes([0x80 | opcode, 0x80 | length])
    elif length < 1 << 16:
        header = bytes([0x80 | opcode, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + length.to_bytes(8, "big")
    mask = os.urandom(4)
    key = (mask * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")
    return header + mask + masked


def handshake_request(host: str, port: int, path: str) -> tuple[bytes, bytes]:
    """The upgrade request and the ``Sec-WebSocket-Accept`` value it must be answered with."""
    key = base64.b64encode(os.urandom(16))
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    return request, accept


class WebSocketProtocol(asyncio.Protocol):
    """One client socket: the upgrade, then whole messages to :meth:`on_message`."""

    # The clock stamped on received data, read once per read from the socket.
    clock: ClassVar[Callable[[], float]] = staticmethod(time.monotonic)

    def __init__(self, host: str, port: int, path: str = "/") -> None:
        self.request, self.accept = handshake_request(host, port, path)
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.fragments: list[bytes] | None = None
        self.closed = False

    # --- hooks for subclasses ------------------------------------------------------------------

    def on_open(self) -> None:
        """The upgrade succeeded."""

    def on_message(self, payload: bytes, received: float) -> None:
        """A whole text or binary message arrived at ``received`` (:attr:`clock`)."""

    def on_closed(self, reason: str) -> None:
        """The socket closed (by either side) or failed."""

    # --- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  (uvloop's is no subclass)
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.on_closed(f"connection lost: {exc}")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded and not self._finish_handshake():
            return
        self._parse_frames(self.clock())

    # --- sending and closing --------------------------------------------------------------------

    def send(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(encode_client_frame(opcode, payload))

    def send_text(self, payload: bytes) -> None:
        self.send(0x1, payload)

    def close(self) -> None:
        """A normal close frame, then the socket closes without waiting for the answer."""
        self.send(0x8, CLOSE_NORMAL)
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def fail(self, reason: str) -> None:
        self.closed = True
        self.on_closed(reason)
        if self.transport is not None:
            self.transport.close()

    # --- framing --------------------------------------------------------------------------------

    def _finish_handshake(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[: end + 4]
        if " 101 " not in head.split("\r\n", 1)[0] or self.accept.decode() not in head:
            self.fail(f"handshake refused: {head.splitlines()[0] if head else '?'}")
            return False
        self.upgraded = True
        self.on_open()
        return True

    def _parse_frames(self, received: float) -> None:
        buffer, position, size = self.buffer, 0, len(self.buffer)
        while size - position >= 2:
            first, second = buffer[position], buffer[position + 1]
            length, start = second & 0x7F, position + 2
            if length == 126:
                if size - position < 4:
                    break
                length, start = int.from_bytes(buffer[start : start + 2], "big"), start + 2
            elif length == 127:
                if size - position < 10:
                    break
                length, start = int.from_bytes(buffer[start : start + 8], "big"), start + 8
            if size < start + length:
                break
            payload = bytes(buffer[start : start + length])
            position = start + length
            self._on_frame(first & 0x80, first & 0x0F, payload, received)
        del buffer[:position]

    def _on_frame(self, fin: int, opcode: int, payload: bytes, received: float) -> None:
        if opcode in (0x1, 0x2):
            if fin:
                self.on_message(payload, received)
            else:
                self.fragments = [payload]
        elif opcode == 0x0 and self.fragments is not None:
            self.fragments.append(payload)
            if fin:
                message, self.fragments = b"".join(self.fragments), None
                self.on_message(message, received)
        elif opcode == 0x9:
            self.send(0xA, payload)  # answer pings, or the server drops us
        elif opcode == 0x8:
            self.send(0x8, payload[:2])
            self.fail("server closed the socket")


def join_frame(stream: str, group: str) -> bytes:
    data = {"streamName": stream, "groupId": group, "subscriptionId": str(uuid.uuid4())}
    return orjson.dumps({"type": "join", "data": data})


class StreamSubscriber(WebSocketProtocol):
    """Joins ``stream``/``group`` once open; ``synced`` resolves with the sync frame's receive
    time. ``connect_started``, ``join_sent`` and ``sync_received`` are :attr:`clock` times."""

    def __init__(self, host: str, port: int, stream: str, group: str, path: str = "/") -> None:
        super().__init__(host, port, path)
        self.join = join_frame(stream, group)
        self.synced: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.connect_started = self.clock()
        self.join_sent: float | None = None
        self.sync_received: float | None = None

    def on_open(self) -> None:
        self.join_sent = self.clock()
        self.send_text(self.join)

    def on_message(self, payload: bytes, received: float) -> None:
        message = orjson.loads(payload)
        event = message.get("event") or {}
        kind = event.get("type")
        if kind == "sync":
            if not self.synced.done():
                self.sync_received = received
                self.synced.set_result(received)
        else:
            self.on_event(message, kind, len(payload), received)

    def on_event(
        self, message: dict[str, Any], kind: str | None, size: int, received: float
    ) -> None:
        """A frame other than the sync (``kind`` is its event type)."""

    def on_closed(self, reason: str) -> None:
        if not self.synced.done():
            self.synced.set_exception(ConnectionError(f"closed before sync: {reason}"))


S = TypeVar("S", bound=StreamSubscriber)


async def open_subscriber(factory: Callable[[], S], host: str, port: int, timeout: float) -> S:
    """Connect, upgrade and join one subscriber; returns once its sync frame arrived."""
    loop = asyncio.get_running_loop()
    subscriber = factory()
    subscriber.connect_started = subscriber.clock()
    await asyncio.wait_for(loop.create_connection(lambda: subscriber, host, port), timeout)
    try:
        await asyncio.wait_for(subscriber.synced, timeout)
    except BaseException:
        subscriber.abort()
        raise
    return subscriber


async def open_subscribers(
    factory: Callable[[], S],
    host: str,
    port: int,
    count: int,
    concurrency: int,
    timeout: float,
    deadline: float,
) -> tuple[list[S], list[str]]:
    """Open ``count`` subscribers, ``concurrency`` at a time, each within ``timeout`` seconds
    and all within ``deadline`` seconds; (subscribers that synced, why the others failed)."""
    gate = asyncio.Semaphore(concurrency)
    subscribers: list[S] = []
    errors: list[str] = []

    async def one() -> None:
        async with gate:
            try:
                subscribers.append(await open_subscriber(factory, host, port, timeout))
            except (OSError, TimeoutError, ConnectionError) as error:
                errors.append(f"{type(error).__name__}: {error}")

    tasks = [asyncio.ensure_future(one()) for _ in range(count)]
    _, pending = await asyncio.wait(tasks, timeout=deadline)
    for task in pending:
        task.cancel()
    errors += ["not joined in time"] * len(pending)
    await asyncio.gather(*pending, return_exceptions=True)
    return subscribers, errors
