"""A lean asyncio HTTP/1.1 client for open-loop load: a pool of keep-alive connections.

One ``asyncio.Protocol`` per connection, one request at a time on each (no pipelining). The
response body is skipped, not decoded; only the status is reported, to a callback, with the
caller's token. A request the server never answers (the connection closes) is reported with
status -1. This keeps the client's cost per request to a few microseconds, so the client
does not delay the schedule it is asked to keep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

# (connection, the request's token, HTTP status or -1 when the connection failed)
OnResponse = Callable[["HttpConnection", Any, int], None]


def chunked_end(buffer: bytearray) -> int | None:
    """Where a complete chunked body (without trailers) ends in ``buffer``, None if it has
    not all arrived yet."""
    position = 0
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
        position = line_end + 2
        if size == 0:
            return position + 2 if len(buffer) >= position + 2 else None
        if len(buffer) < position + size + 2:
            return None
        position += size + 2


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection: :meth:`request`, then ``on_response`` once answered."""

    def __init__(self, on_response: OnResponse) -> None:
        self.on_response = on_response
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.token: Any = None
        self.closed = False
        self.status = 0  # of the response being read; 0 until its head arrived
        self.length = 0
        self.chunked = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  (uvloop's is no subclass)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.token is not None:
            self._finish(-1)

    def request(self, data: bytes, token: Any) -> None:
        assert self.transport is not None and self.token is None
        self.token = token
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.token is not None and self._parse():
            pass

    def _parse(self) -> bool:
        """Consume one whole response from the buffer; False if it is not all there yet."""
        if not self.status and not self._parse_head():
            return False
        if self.chunked:
            end = chunked_end(self.buffer)
            if end is None:
                return False
        else:
            end = self.length
            if len(self.buffer) < end:
                return False
        del self.buffer[:end]
        self._finish(self.status)
        return True

    def _parse_head(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        del self.buffer[: end + 4]
        self.status = int(lines[0].split()[1])
        headers = dict(line.lower().split(":", 1) for line in lines[1:] if ":" in line)
        self.chunked = "chunked" in headers.get("transfer-encoding", "")
        self.length = int(headers.get("content-length", "0").strip() or 0)
        return True

    def _finish(self, status: int) -> None:
        token, self.token, self.status = self.token, None, 0
        self.on_response(self, token, status)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class HttpPool:
    """``size`` keep-alive connections; :meth:`acquire` waits for an idle one (reopening it if
    the server closed it), and an answered connection goes back to the pool by itself."""

    def __init__(self, host: str, port: int, size: int, on_response: OnResponse) -> None:
        self.host, self.port, self.size = host, port, size
        self.user_on_response = on_response
        self.idle: asyncio.Queue[HttpConnection] = asyncio.Queue()
        self.connections: list[HttpConnection] = []
        self.in_flight = 0
        self.reconnects = 0

    async def open(self, timeout: float) -> None:
        for _ in range(self.size):
            self.idle.put_nowait(await asyncio.wait_for(self._connect(), timeout))

    async def _connect(self) -> HttpConnection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            lambda: HttpConnection(self._on_response), self.host, self.port
        )
        self.connections.append(connection)
        return connection

    async def acquire(self) -> HttpConnection:
        connection = await self.idle.get()
        if connection.closed:  # the server closed an idle keep-alive connection
            self.reconnects += 1
            connection = await self._connect()
        return connection

    def send(self, connection: HttpConnection, data: bytes, token: Any) -> None:
        self.in_flight += 1
        connection.request(data, token)

    def _on_response(self, connection: HttpConnection, token: Any, status: int) -> None:
        self.in_flight -= 1
        self.user_on_response(connection, token, status)
        self.idle.put_nowait(connection)

    def close(self) -> None:
        for connection in self.connections:
            connection.close()
