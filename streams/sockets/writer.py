"""The frames going out on one stream socket (docs/protocol.md: Slow readers).

Frames go straight to the socket while it takes them: as bytes written to its transport where
the server allows it (:func:`~streams.sockets.transports.direct_writes`; a group's frame is
framed once for all its sockets, and the frames of one turn of the event loop go out in one
write, :mod:`streams.sockets.corking`), otherwise through the server's ``send``, each written
in the caller (:mod:`streams.sockets.send_in_caller`). When a send has to wait, it carries on
in a task and the frames behind it wait in the socket's
:class:`~streams.sockets.outbox.Outbox`, bounded by frames and bytes. A reader that passes the
bounds, or a send that stays blocked for the slow-reader timeout, is given up on: the writer
stops and tells its owner, which closes the socket with 4008. A paced answer to a join waits
for the socket to take what was sent (:meth:`SocketWriter.drained`) before it sends more.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..conf import engine_settings
from .corking import LoopCork
from .framing import TextMessage, wire_bytes
from .outbox import ItemKey, Outbox
from .send_in_caller import start_eagerly
from .transports import (
    DirectWrites,
    ServerSocket,
    TwistedSocket,
    direct_writes,
    report_send_failure,
    server_socket,
)

logger = logging.getLogger("streams.consumer")

Message = dict[str, Any]  # an ASGI websocket.send message
# The server's send, returning any awaitable (start_eagerly drives it), given plain dicts
# (asgiref's TypedDicts require keys that ASGI makes optional).
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
# What a writer calls to give its socket up: a close code and why.
GiveUp = Callable[[int, str], None]

CLOSE_INTERNAL_ERROR = 1011
# A client that cannot keep up with its frames (a private-use code).
CLOSE_SLOW_CONSUMER = 4008
# How often a paced answer looks at daphne's buffer (its sends tell nothing).
DRAIN_POLL_SECONDS = 0.005


class SocketWriter:
    """The outgoing side of one socket: writes, the outbox of a slow reader, and its bounds."""

    __slots__ = (
        "closed",
        "cork",
        "deadline",
        "direct",
        "direct_known",
        "drain_waiters",
        "give_up",
        "held",
        "outbox",
        "send",
        "socket",
        "unbounded",
        "waiting",
    )

    def __init__(self, send: Send, give_up: GiveUp) -> None:
        self.send = send
        self.give_up = give_up
        # What the server tells of the socket (its unsent bytes, an abort), if it is known.
        self.socket: ServerSocket | None = server_socket(send)
        # The socket if its server's sends never wait (daphne): its buffer must be bounded here.
        self.unbounded = self.socket if isinstance(self.socket, TwistedSocket) else None
        self.closed = False
        self.outbox: Outbox | None = None  # made when a send has to wait
        self.waiting: asyncio.Task[None] | None = None  # the send that has to wait
        self.deadline: asyncio.TimerHandle | None = None  # for that send
        self.drain_waiters: list[asyncio.Future[None]] = []
        # How to write frames to the socket's transport, learnt at the first write (once the
        # socket is accepted: an extension it took rules them out).
        self.direct: DirectWrites | None = None
        self.direct_known = False
        self.held: list[bytes] | None = None  # frames for the end of the loop's turn
        # The cork of the hub that fans frames out to the socket (its owner sets it), if any.
        self.cork: LoopCork | None = None

    def write(self, message: Message, item: ItemKey | None = None) -> None:
        """Send ``message`` (a change of ``item``, if given) now, or queue it behind a send
        that waits."""
        if self.closed:
            return
        if self.waiting is not None:  # a send is waiting on a slow reader: queue behind it
            if self.outbox is None:
                self.outbox = Outbox(
                    engine_settings.STREAMS_MAX_PENDING_FRAMES,
                    engine_settings.STREAMS_MAX_PENDING_BYTES,
                )
            if not self.outbox.push(message, item):
                self.give_up(CLOSE_SLOW_CONSUMER, "too many frames or bytes pending")
            return
        # daphne's sends never wait: what it holds unsent is what this reader is behind by.
        unbounded = self.unbounded
        if (
            unbounded is not None
            and unbounded.unsent_bytes() > engine_settings.STREAMS_MAX_PENDING_BYTES
        ):
            self.give_up(CLOSE_SLOW_CONSUMER, "too many bytes unsent")
            return
        if not self.direct_known:
            self.direct, self.direct_known = direct_writes(self.send), True
        # Write now, in the caller: to the transport if the server's send would write at once
        # (a group's frame held to the end of the loop's turn, to go out with the others the
        # socket gets in it), else through the send, and only a send that has to wait goes on
        # in a task.
        direct = self.direct
        if direct is not None and direct.ready():
            cork = self.cork
            if cork is not None and isinstance(message, TextMessage):
                if self.held is None:
                    self.held = [message.wire]
                    cork.hold(self)
                else:
                    self.held.append(message.wire)
                return
            if self.held is not None:
                self.write_held()
            self._write_direct(direct, wire_bytes(message))
            return
        if self.held is not None:
            self.write_held()
        try:
            self.waiting = start_eagerly(self.send(message))
        except Exception as error:
            self._failed(error)
            return
        if self.waiting is not None:
            self.waiting.add_done_callback(self._sent)
            self.deadline = asyncio.get_running_loop().call_later(
                engine_settings.STREAMS_SLOW_READER_TIMEOUT,
                self.give_up,
                CLOSE_SLOW_CONSUMER,
                "a send stayed blocked for the slow-reader timeout",
            )

    def write_held(self) -> None:
        """Write the frames held for the end of the loop's turn, in one write. Dropped if the
        socket went meanwhile (it could only close)."""
        held, self.held = self.held, None
        direct = self.direct
        if held and direct is not None and not self.closed and direct.ready():
            self._write_direct(direct, held[0] if len(held) == 1 else b"".join(held))

    def _write_direct(self, direct: DirectWrites, data: bytes) -> None:
        try:
            direct.write(data)
        except Exception as error:
            self._failed(error)

    def _sent(self, waiting: "asyncio.Task[Any]") -> None:
        """A send that had to wait is done: send what queued behind it, in order."""
        self.waiting = None
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
        if waiting.cancelled():
            self.stop()
            return
        error = waiting.exception()
        if error is not None:
            self._failed(error)
            return
        while self.outbox and self.waiting is None and not self.closed:
            message = self.outbox.pop()
            if message is not None:
                self.write(message)
        if self.drain_waiters:
            self._wake_drain_waiters()

    def _failed(self, error: BaseException) -> None:
        """A send raised. ASGI servers raise an ``OSError`` for a socket that went away (its
        disconnect cleans up); anything else means the server cannot be driven as this writer
        drives it: logged (once per kind of error), and the socket closed rather than left
        open with frames lost."""
        if isinstance(error, OSError):
            self.stop()
            return
        report_send_failure(error)
        self.give_up(CLOSE_INTERNAL_ERROR, f"a send raised {type(error).__name__}")

    def stop(self) -> None:
        """Send nothing more: the socket is gone, or being closed."""
        self.closed = True
        self.outbox = None
        self.held = None
        self._wake_drain_waiters()
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
        if self.waiting is not None:
            self.waiting.cancel()

    async def close(self, code: int, timeout: float) -> None:
        """Send the close frame, behind what the server holds for the socket; cut the
        connection if it is still open ``timeout`` seconds on (a stalled reader never takes
        it)."""
        if self.socket is not None:
            asyncio.get_running_loop().call_later(timeout, self._abort)
        with contextlib.suppress(Exception):  # timed out, or the socket went meanwhile
            await asyncio.wait_for(self.send({"type": "websocket.close", "code": code}), timeout)

    def _abort(self) -> None:
        with contextlib.suppress(Exception):  # already closed
            assert self.socket is not None
            self.socket.abort()

    async def drained(self, limit: int) -> None:
        """Wait until no more than ``limit`` bytes wait for the socket: in its outbox, or
        (daphne, whose sends never wait) in the server's buffer. A server buffer that does not
        shrink for the slow-reader timeout gives the socket up as a slow reader."""
        loop = asyncio.get_running_loop()
        stalled_since, unsent = loop.time(), None
        while not self.closed:
            if self.held is not None:  # counted once in the server's buffer
                self.write_held()
            if self.outbox is not None and self.outbox.bytes > limit:
                waiter = loop.create_future()
                self.drain_waiters.append(waiter)
                await waiter
                continue
            now, before = loop.time(), unsent
            unsent = self.socket.unsent_bytes() if self.socket is not None else 0
            if unsent <= limit:
                return
            if before is None or unsent < before:
                stalled_since = now
            elif now - stalled_since > engine_settings.STREAMS_SLOW_READER_TIMEOUT:
                self.give_up(CLOSE_SLOW_CONSUMER, "the socket took nothing for the timeout")
                return
            await asyncio.sleep(DRAIN_POLL_SECONDS)

    def _wake_drain_waiters(self) -> None:
        waiters, self.drain_waiters = self.drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
