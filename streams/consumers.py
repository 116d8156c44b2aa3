"""The WebSocket consumer that speaks Motia's stream protocol (README: Wire protocol)."""

import asyncio
import logging
from collections import deque
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from . import protocol
from .auth import authenticate, scope_cookies, session_user
from .context import StreamContext
from .eager import start_eagerly
from .events import now_ms
from .hooks import call_hook
from .hub import GroupKey, Hub, get_hub
from .logger import FlowLogger
from .protocol import ProtocolError, Subscription
from .registry import registry
from .snapshots import snapshot_reads

logger = logging.getLogger("streams.consumer")

Message = dict[str, Any]  # an ASGI websocket.send message

# Close code for a client that cannot keep up with its frames (a private-use code).
CLOSE_SLOW_CONSUMER = 4008
MAX_PENDING_FRAMES = 10_000


class StreamConsumer(AsyncWebsocketConsumer):
    """One client socket: its subscriptions, hooks and outgoing frames.

    Frames reach it from the process's :class:`~streams.hub.Hub`, not through a channel of
    its own, so the consumer joins no channel layer: its only messages are the socket's.
    """

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Channels waits on the socket and on the consumer's layer channel at once, with a task
        # and an asyncio.wait per message; with the socket as the only source, a loop will do.
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        self.subscriptions: dict[Subscription, None] = {}
        self.outbox: deque[Message] | None = None  # made when a send has to wait
        self.held: list[Message] | None = None
        self.writer: asyncio.Task[None] | None = None
        self.closed = False
        self.hub: Hub | None = None
        self.auth_context: Any = None
        if "user" not in self.scope:
            # The session's user (hooks see it as ctx.user), read only when a session cookie
            # came with the handshake.
            self.scope["user"] = await session_user(scope_cookies(self.scope))
        self.user = self.scope["user"]
        await super().websocket_connect(message)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes the thread's stale database connections before every message, in a
        # thread hop; this consumer's queries run on the database threads, which keep theirs.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def connect(self) -> None:
        result = await authenticate(self.scope)
        if not result.authorized:
            await self.close()
            return
        self.auth_context = result.context
        self.hub = await get_hub()
        subprotocols = self.scope.get("subprotocols") or []
        # Browsers and the Node client abort unless an offered subprotocol is echoed.
        await self.accept(subprotocol=subprotocols[0] if subprotocols else None)

    async def disconnect(self, code: int) -> None:
        self.closed = True
        if self.writer is not None:
            self.writer.cancel()
        subscriptions = list(self.subscriptions)
        self.subscriptions.clear()
        for subscription in subscriptions:
            await self._forget(subscription)
            await self._run_on_leave(subscription)

    # --- client frames ------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else bytes_data
        if raw is None:
            return
        limit = settings.STREAMS["MAX_FRAME_BYTES"]
        if len(raw) > limit:
            self._send_error("frame_too_large", f"frame is larger than {limit} bytes")
            return
        try:
            frame = protocol.parse_client_frame(raw)
        except ProtocolError as error:
            self._send_error(error.code, error.message)
            return
        if frame.type == "join":
            await self._join(frame.subscription)
        else:
            await self._leave(frame.subscription)

    async def _join(self, subscription: Subscription) -> None:
        if subscription.stream_name not in registry:
            self._send_error(
                "unknown_stream", f"unknown stream {subscription.stream_name!r}", subscription
            )
            return
        if subscription in self.subscriptions:
            await self._send_sync(subscription)  # a re-join: just bring the client up to date
            return
        limit = settings.STREAMS["MAX_SUBSCRIPTIONS"]
        if len(self.subscriptions) >= limit:
            self._send_error(
                "too_many_subscriptions", f"at most {limit} subscriptions a connection"
            )
            return
        if not await self._run_on_join(subscription):
            self._send(protocol.unauthorized_frame(subscription, now_ms()))
            return
        self.subscriptions[subscription] = None
        assert self.hub is not None
        await self.hub.subscribe(self, _group_key(subscription), subscription.id)
        await self._send_sync(subscription)

    async def _send_sync(self, subscription: Subscription) -> None:
        """Send the snapshot (the hub already routes the group's frames here): frames arriving
        meanwhile are held and follow it, so none is lost and none is overwritten by an older
        snapshot."""
        self.held = []
        try:
            self._send(await snapshot_reads().frame(subscription))
        finally:
            held, self.held = self.held, None
            for message in held:
                self._enqueue(message)

    async def _leave(self, subscription: Subscription) -> None:
        if subscription not in self.subscriptions:
            return  # leaving what was never joined (or was refused) is harmless
        del self.subscriptions[subscription]
        await self._forget(subscription)
        await self._run_on_leave(subscription)

    async def _forget(self, subscription: Subscription) -> None:
        if self.hub is not None:
            await self.hub.unsubscribe(self, _group_key(subscription), subscription.id)

    # --- hooks --------------------------------------------------------------------------------

    def _hook_context(self, stream_name: str) -> StreamContext:
        return StreamContext(user=self.user, logger=_stream_logger(stream_name))

    async def _run_on_join(self, subscription: Subscription) -> bool:
        hook = registry.get(subscription.stream_name).on_join
        if hook is None:
            return True
        ctx = self._hook_context(subscription.stream_name)
        try:
            result = await call_hook(hook, subscription, ctx, self.auth_context)
        except Exception:
            logger.exception("on_join of %r raised; join refused", subscription.stream_name)
            return False
        return not (isinstance(result, dict) and result.get("unauthorized"))

    async def _run_on_leave(self, subscription: Subscription) -> None:
        if subscription.stream_name not in registry:
            return
        hook = registry.get(subscription.stream_name).on_leave
        if hook is None:
            return
        ctx = self._hook_context(subscription.stream_name)
        try:
            await call_hook(hook, subscription, ctx, self.auth_context)
        except Exception:
            logger.exception("on_leave of %r raised", subscription.stream_name)

    # --- outgoing frames ----------------------------------------------------------------------

    def deliver(self, message: Message) -> None:
        """Called by the hub: send a frame's message."""
        if self.held is not None:
            self.held.append(message)
        else:
            self._enqueue(message)

    def _send_error(
        self, code: str, message: str, subscription: Subscription | None = None
    ) -> None:
        self._send(protocol.error_frame(code, message, now_ms(), subscription))

    def _send(self, frame: str) -> None:
        self._enqueue({"type": "websocket.send", "text": frame})

    def _enqueue(self, message: Message) -> None:
        if self.closed:
            return
        if self.writer is not None:  # a send is waiting on a slow reader: queue behind it
            self._queue(message)
            return
        # Write now, in the caller; only a send that has to wait goes on in a task.
        try:
            self.writer = start_eagerly(self.base_send(message))
        except Exception:  # the socket went away: its disconnect cleans up
            self._drop()
            return
        if self.writer is not None:
            self.writer.add_done_callback(self._sent)

    def _queue(self, message: Message) -> None:
        if self.outbox is None:
            self.outbox = deque()
        if len(self.outbox) >= MAX_PENDING_FRAMES:
            self._drop()
            asyncio.get_running_loop().create_task(self.close(code=CLOSE_SLOW_CONSUMER))
            return
        self.outbox.append(message)

    def _sent(self, writer: "asyncio.Task[Any]") -> None:
        """A send that had to wait is done: send what queued behind it, in order."""
        self.writer = None
        if writer.cancelled() or writer.exception() is not None:
            self._drop()
            return
        while self.outbox and self.writer is None and not self.closed:
            self._enqueue(self.outbox.popleft())

    def _drop(self) -> None:
        logger.debug("socket gone or too slow; dropping its frames")
        self.closed = True
        self.outbox = None


def _group_key(subscription: Subscription) -> GroupKey:
    return (subscription.stream_name, subscription.group_id)


def _stream_logger(stream_name: str) -> FlowLogger:
    return FlowLogger("streams", step=f"stream:{stream_name}")
