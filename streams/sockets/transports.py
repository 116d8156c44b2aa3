"""What ASGI does not tell an application about its socket: how many bytes the server still
holds unsent for it, how to cut it off, and how to write a frame's bytes to it.

A consumer needs both to bound a slow reader (docs/protocol.md: Slow readers): ASGI has no
way to ask either, so :func:`server_socket` looks behind the ``send`` callable of the servers
this project runs under. With another server it returns None, and the consumer does without.

- uvicorn (every ``--ws`` implementation): ``send`` is a method of the connection's protocol,
  whose ``transport`` is an asyncio transport; a ``send`` blocks while its buffer is full.
- daphne (``manage.py runserver``): ``send`` is a partial of the server's ``handle_reply``
  with the protocol first; Twisted buffers every frame and a ``send`` never blocks, so the
  buffered bytes must be counted.

:func:`direct_writes` writes whole frames, made once for every socket that gets them
(:mod:`streams.sockets.framing`), to the transport of a socket of uvicorn's ``websockets-sansio``
or ``wsproto`` or of daphne, where the server's ``send`` would frame the same text again for
each socket. It writes only while the server's own ``send`` would write at once: the socket is
open, no extension (per-message deflate) is in use, the server has no frame of its own half
written, and its buffer is not over its high-water mark (then a ``send`` waits, and so does the
writer). uvicorn's ``websockets`` (legacy) implementation, hypercorn and granian are driven
through ``send``.

Under hypercorn and granian none of this is known. What a failed ``send`` means is known for all:
the ASGI specification has servers raise an ``OSError`` for a socket that went away;
anything else is a server the consumer cannot drive, which :func:`report_send_failure` logs.
"""

import functools
import logging
from typing import Any, Protocol

logger = logging.getLogger("streams.consumer")


class ServerSocket(Protocol):
    """The server's side of one WebSocket connection."""

    def unsent_bytes(self) -> int:
        """Bytes written to the socket that the client has not taken yet."""

    def abort(self) -> None:
        """Drop the TCP connection now, without waiting for buffered bytes to leave."""


class AsyncioSocket:
    """An asyncio transport (uvicorn)."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport

    def unsent_bytes(self) -> int:
        return int(self.transport.get_write_buffer_size())

    def abort(self) -> None:
        self.transport.abort()


class TwistedSocket:
    """A Twisted TCP transport (daphne)."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport

    def unsent_bytes(self) -> int:
        # Twisted's FileDescriptor keeps what it could not write yet in these three.
        transport = self.transport
        data = getattr(transport, "dataBuffer", b"")
        return len(data) - getattr(transport, "offset", 0) + getattr(transport, "_tempDataLen", 0)

    def abort(self) -> None:
        self.transport.abortConnection()


def _daphne_protocol(send: Any) -> Any:
    """The WebSocket protocol behind daphne's ``send`` (a partial of its server's
    ``handle_reply`` with the protocol first), None for another server."""
    if isinstance(send, functools.partial) and send.args:
        return send.args[0]
    return None


def _uvicorn_protocol(send: Any) -> Any:
    """The connection's protocol behind uvicorn's ``send`` (a method of it), None otherwise."""
    return getattr(send, "__self__", None)


def server_socket(send: Any) -> ServerSocket | None:
    """The server socket behind an ASGI ``send``, if the server is one this module knows."""
    protocol = _daphne_protocol(send)
    if protocol is not None:
        transport = getattr(protocol, "transport", None)
        # A policy wrapper (timeouts, limits) may stand between the protocol and the socket.
        while transport is not None and not hasattr(transport, "dataBuffer"):
            transport = getattr(transport, "transport", None)
        if transport is not None and hasattr(transport, "abortConnection"):
            return TwistedSocket(transport)
        return None
    transport = getattr(_uvicorn_protocol(send), "transport", None)
    if transport is not None and hasattr(transport, "get_write_buffer_size"):
        return AsyncioSocket(transport)
    return None


class DirectWrites(Protocol):
    """Whole frames written to one socket's transport, past the server's ``send``."""

    def ready(self) -> bool:
        """Whether a frame written now goes out as the server's ``send`` would send it."""

    def write(self, data: bytes) -> None:
        """Write one or more whole frames."""


class UvicornSansioWrites:
    """uvicorn's ``websockets-sansio`` socket: the websockets library's connection state."""

    __slots__ = ("connection", "open", "protocol", "transport")

    def __init__(self, protocol: Any, open_state: Any) -> None:
        self.protocol = protocol
        self.connection = protocol.conn
        self.transport = protocol.transport
        self.open = open_state

    def ready(self) -> bool:
        protocol = self.protocol
        return (
            not protocol.close_sent
            and protocol.writable.is_set()
            and self.connection.state is self.open
            and not self.transport.is_closing()
        )

    def write(self, data: bytes) -> None:
        self.transport.write(data)


class UvicornWsprotoWrites(UvicornSansioWrites):
    """uvicorn's ``wsproto`` socket: the same checks on wsproto's connection state."""

    __slots__ = ()


class DaphneWrites:
    """daphne's socket: autobahn's protocol state, and its own queue of frames to write."""

    __slots__ = ("protocol",)

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol

    def ready(self) -> bool:
        protocol = self.protocol
        return bool(
            protocol.state == protocol.STATE_OPEN
            and protocol.send_state == protocol.SEND_STATE_GROUND
            and not protocol.send_queue
        )

    def write(self, data: bytes) -> None:
        self.protocol.transport.write(data)


def direct_writes(send: Any) -> DirectWrites | None:
    """How to write frames straight to the socket behind an accepted socket's ``send``, or None
    (another server, or an extension in use on the socket: its frames are not plain)."""
    protocol = _daphne_protocol(send)
    if protocol is not None:
        if not hasattr(protocol, "send_queue") or getattr(protocol, "autoFragmentSize", None):
            return None
        if getattr(protocol, "websocket_extensions_in_use", None) != []:
            return None
        return DaphneWrites(protocol)
    protocol = _uvicorn_protocol(send)
    module = type(protocol).__module__
    if module == "uvicorn.protocols.websockets.websockets_sansio_impl":
        from websockets.protocol import State

        if protocol.conn.extensions:
            return None
        return UvicornSansioWrites(protocol, State.OPEN)
    if module == "uvicorn.protocols.websockets.wsproto_impl":
        from wsproto.connection import ConnectionState

        if protocol.config.ws_per_message_deflate:
            return None  # wsproto keeps to itself whether the client took it
        return UvicornWsprotoWrites(protocol, ConnectionState.OPEN)
    return None


def suit_daphne(send: Any, largest_frame: int) -> None:
    """Two settings of daphne's WebSocket library (autobahn) for one socket. Close with a code
    (1009 for a message over its size limit, 1002 for a broken frame) instead of dropping the
    TCP connection, which clients see as 1006 with no reason. And a message size limit that
    fits ``largest_frame``, the largest frame the engine sends (a whole group's sync): autobahn
    refuses to send a message over its limit (daphne's 1 MiB), and the limit is also what it
    takes from a client, before the consumer's own (``STREAMS_MAX_FRAME_BYTES``). uvicorn
    needs neither."""
    protocol = _daphne_protocol(send)
    if protocol is not None:
        if hasattr(protocol, "failByDrop"):
            protocol.failByDrop = False
        limit = getattr(protocol, "maxMessagePayloadSize", None)
        if isinstance(limit, int) and 0 < limit < largest_frame:
            protocol.maxMessagePayloadSize = largest_frame


# The kinds of send failure this process has logged (see report_send_failure).
_reported: set[type[BaseException]] = set()


def report_send_failure(error: BaseException) -> None:
    """Log a ``send`` that raised something else than the ``OSError`` ASGI servers raise for
    a socket that went away: a server this engine cannot drive as it does. Logged as an error,
    with its traceback, the first time for each kind of error in the process (every socket
    would repeat it), then at debug level."""
    kind = type(error)
    if kind in _reported:
        logger.debug("a stream socket's send raised %r", error)
        return
    _reported.add(kind)
    logger.error(
        "a stream socket's send raised %s: the socket is closed (1011) instead of dropping its "
        "frames; is the ASGI server one the engine supports (docs/protocol.md: Slow readers)?",
        kind.__name__,
        exc_info=error,
    )
