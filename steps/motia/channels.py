"""An http request's body and response as Motia's channels offer them.

Motia hands an http handler the raw request body as a ``ChannelReader``
(``request.request_body.stream``, iterated chunk by chunk) and the response as a
``ChannelWriter`` (``response.writer.stream.write(bytes)``, after ``await
response.status(...)`` and ``await response.headers({...})``): a handler may stream its
answer, Server-Sent Events for one. Here the body has been read by the time the handler runs
(up to ``DATA_UPLOAD_MAX_MEMORY_SIZE``), and what the handler writes goes to a
:class:`ResponseChannel`, which the http step turns into a streaming response as soon as the
first bytes are written (:mod:`steps.motia.http_runs`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

logger = logging.getLogger("steps.motia")

CHUNK_BYTES = 64 * 1024


class ReadableStream:
    """A request body's chunks, for ``for chunk in ...`` and ``async for chunk in ...``."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, len(self._body), CHUNK_BYTES):
            yield self._body[start : start + CHUNK_BYTES]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self:
            yield chunk


class ChannelReader:
    """The raw request body: ``stream``, ``read_all()``, or iterate the reader itself."""

    def __init__(self, body: bytes) -> None:
        self.stream = ReadableStream(body)
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.stream)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.stream.__aiter__()

    async def read_all(self) -> bytes:
        return self._body

    def on_message(self, callback: Callable[[str], Any]) -> None:
        """Text messages on the channel: a request body has none."""

    async def close_async(self) -> None:
        """Nothing to close: the body is in memory."""

    def close(self) -> None:
        """Nothing to close: the body is in memory."""


class ResponseChannel:
    """What an http handler writes: status, headers and body chunks, handed to the event loop
    that serves the request (writes may come from a plain handler's thread)."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self.status = 200
        self.headers: dict[str, str] = {}
        self.chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.started = asyncio.Event()  # set at the first body bytes, or at close
        self.closed = False

    def _on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        if threading.get_ident() == self._thread:
            fn(*args)
        else:
            self.loop.call_soon_threadsafe(fn, *args)

    def set_status(self, status: int) -> None:
        self._on_loop(self._set, "status", int(status))

    def set_headers(self, headers: Mapping[str, str]) -> None:
        self._on_loop(self._set, "headers", {**self.headers, **dict(headers)})

    def _set(self, name: str, value: Any) -> None:
        if self.started.is_set():
            logger.warning("a response's %s set after its body began: ignored", name)
            return
        setattr(self, name, value)

    def write(self, data: bytes | str) -> None:
        chunk = data.encode() if isinstance(data, str) else bytes(data)
        self._on_loop(self._put, chunk)

    def _put(self, chunk: bytes) -> None:
        if self.closed:
            logger.warning("a response's body written after it was closed: dropped")
            return
        self.chunks.put_nowait(chunk)
        self.started.set()

    def close(self) -> None:
        self._on_loop(self._close)

    def _close(self) -> None:
        if not self.closed:
            self.closed = True
            self.chunks.put_nowait(None)
            self.started.set()

    def written(self) -> bytes:
        """Every chunk written so far (for a handler that ended before it was streamed)."""
        chunks = []
        while not self.chunks.empty():
            chunk = self.chunks.get_nowait()
            if chunk is not None:
                chunks.append(chunk)
        return b"".join(chunks)

    async def body(self) -> AsyncIterator[bytes]:
        """The chunks as they come, until the channel is closed."""
        while (chunk := await self.chunks.get()) is not None:
            yield chunk


class WritableStream:
    """``writer.stream``: ``write(bytes)`` and ``end(bytes=None)``."""

    def __init__(self, channel: ResponseChannel) -> None:
        self._channel = channel

    def write(self, data: bytes | str) -> None:
        self._channel.write(data)

    def end(self, data: bytes | str | None = None) -> None:
        if data is not None:
            self._channel.write(data)
        self._channel.close()


class ChannelWriter:
    """The response being written: ``stream.write(...)``, ``await write(...)``, control
    messages (Motia's ``{"type": "set_status"|"set_headers", ...}``) and ``close()``."""

    def __init__(self, channel: ResponseChannel) -> None:
        self._channel = channel
        self.stream = WritableStream(channel)

    def set_status(self, status: int) -> None:
        self._channel.set_status(status)

    def set_headers(self, headers: Mapping[str, str]) -> None:
        self._channel.set_headers(headers)

    async def write(self, data: bytes | str) -> None:
        self._channel.write(data)

    def send_message(self, message: str) -> None:
        """A control message, as Motia's engine reads them."""
        try:
            control = json.loads(message)
        except ValueError:
            control = None
        kind = control.get("type") if isinstance(control, dict) else None
        if kind == "set_status" and isinstance(control.get("status_code"), int):
            self._channel.set_status(control["status_code"])
        elif kind == "set_headers" and isinstance(control.get("headers"), dict):
            self._channel.set_headers(control["headers"])
        else:
            logger.warning("unknown response control message ignored: %.200s", message)

    async def send_message_async(self, message: str) -> None:
        self.send_message(message)

    def close(self) -> None:
        self._channel.close()

    async def close_async(self) -> None:
        self._channel.close()
