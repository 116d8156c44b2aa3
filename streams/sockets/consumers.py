"""The WebSocket consumer that speaks Motia's stream protocol (docs/protocol.md)."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import TYPE_CHECKING, Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from ..conf import engine_settings
from ..definitions import registry
from ..publishing import LOST_AFTER_SECONDS, GroupKey, Hub, get_hub, now_ms
from ..runtime import FlowLogger, db
from ..storage import replay
from . import protocol
from .answers import AnswerPart, GroupTooLarge, answer_part, tail_part
from .auth import authenticate, scope_cookies, session_user
from .context import StreamContext, call_hook
from .outbox import ItemKey
from .paging import FIRST_LIMIT, Hold, largest_frame
from .protocol import ProtocolError, Subscription
from .snapshots import snapshot_reads
from .transports import suit_daphne
from .writer import CLOSE_SLOW_CONSUMER, DRAIN_POLL_SECONDS, Send, SocketWriter

if TYPE_CHECKING:
    from asgiref.typing import WebSocketConnectEvent, WebSocketDisconnectEvent
    from channels.consumer import _ChannelScope

logger = logging.getLogger("streams.consumer")

Message = dict[str, Any]  # an ASGI websocket.send message

# Close code (docs/protocol.md: Close codes) of a client frame over MAX_FRAME_BYTES.
CLOSE_MESSAGE_TOO_BIG = 1009


class StreamConsumer(AsyncWebsocketConsumer):
    """One client socket: its subscriptions, hooks and outgoing frames.

    Frames reach it from the process's :class:`~streams.publishing.hub.Hub`, not through a channel
    of its own, so the consumer joins no channel layer: its only messages are the socket's.
    """

    base_send: Send  # the server's
    # It joins no channel-layer group: no list of its own for Channels to walk.
    groups: tuple[str, ...] = ()  # type: ignore[assignment]

    @classmethod
    def as_asgi(cls, **initkwargs: Any) -> Any:
        """Channels' ``as_asgi``: an application making a consumer per socket, but one that
        hands back the consumer's coroutine instead of awaiting it in one of its own, which
        held a frame (some 230 bytes) for the life of every socket."""

        def app(scope: Any, receive: Any, send: Any) -> Coroutine[Any, Any, None]:
            return cls(**initkwargs)(scope, receive, send)

        app.consumer_class = cls  # type: ignore[attr-defined]  # as Channels' has them
        app.consumer_initkwargs = initkwargs  # type: ignore[attr-defined]
        app._asgi_single_callable = True  # type: ignore[attr-defined]  # asgiref: ASGI 3
        return app

    async def __call__(self, scope: "_ChannelScope", receive: Any, send: Any) -> None:
        # Channels waits on the socket and on the consumer's layer channel at once, with a task
        # and an asyncio.wait per message; with the socket as the only source, a loop will do.
        self.scope = scope
        self.channel_layer = None  # type: ignore[assignment]  # none joined; the stubs want one
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def websocket_connect(self, message: "WebSocketConnectEvent") -> None:
        # Each subscription, and whether its client takes paged syncs (``syncPages``).
        self.subscriptions: dict[Subscription, bool] = {}
        # The frames of each group being answered, held until its answer is sent; one answer
        # of a group at a time (the lock, and how many wait on it). These and the two below
        # are None while empty, as an idle socket's are: thousands of sockets each kept
        # their dicts (and the tables of emptied ones) for nothing.
        self.holds: dict[GroupKey, Hold] | None = None
        self.answering: dict[GroupKey, tuple[asyncio.Lock, int]] | None = None
        # The last replay of each group: (the version it reached, its item or None for the
        # whole group), until a later frame of the group comes.
        self.replayed: dict[GroupKey, tuple[int, str | None]] | None = None
        self.resyncs: set[asyncio.Task[None]] | None = None
        self.out = SocketWriter(self.base_send, self._shut)
        self.closing: asyncio.Task[None] | None = None
        settings = engine_settings
        suit_daphne(
            self.base_send,
            largest_frame(
                settings.STREAMS_MAX_SYNC_BYTES,
                settings.STREAMS_SYNC_PAGE_BYTES,
                settings.STREAMS_MAX_ITEM_BYTES,
            ),
        )
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

    async def websocket_disconnect(self, message: "WebSocketDisconnectEvent") -> None:
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def connect(self) -> None:
        result = await authenticate(self.scope)
        if not result.authorized:
            await self.close()
            return
        self.auth_context = result.context
        self.hub = await get_hub()
        self.out.cork = self.hub.cork
        # Browsers and the Node client abort unless an offered subprotocol is echoed.
        offered = self.scope.get("subprotocols") or ()
        await self.accept(subprotocol=next(iter(offered), None))

    async def disconnect(self, code: int) -> None:
        self.out.stop()
        await self._leave_all()

    async def _leave_all(self) -> None:
        subscriptions = list(self.subscriptions)
        self.subscriptions.clear()
        for subscription in subscriptions:
            await self._forget(subscription)
            await self._run_on_leave(subscription)

    def _shut(self, code: int, reason: str) -> None:
        """Stop sending, end the subscriptions now (``on_leave`` included) and close with
        ``code``. The close frame waits behind what the server already holds for the socket,
        which a stalled reader never takes: the connection is cut off if still open after the
        slow-reader timeout."""
        if self.out.closed:
            return
        logger.info("closing a stream socket with %s: %s", code, reason)
        self.out.stop()
        self.closing = asyncio.get_running_loop().create_task(self._close_and_leave(code))

    async def _close_and_leave(self, code: int) -> None:
        await self._leave_all()
        await self.out.close(code, engine_settings.STREAMS_SLOW_READER_TIMEOUT)

    # --- client frames ------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else bytes_data
        if raw is None:
            return
        limit = engine_settings.STREAMS_MAX_FRAME_BYTES
        if len(raw) > limit:
            self._shut(CLOSE_MESSAGE_TOO_BIG, f"a client frame of {len(raw)} bytes")
            return
        try:
            frame = protocol.parse_client_frame(raw)
        except ProtocolError as error:
            self._send_error(error.code, error.message)
            return
        if frame.type == "join":
            await self._join(frame.subscription, frame.since_version, frame.sync_pages)
        else:
            await self._leave(frame.subscription)

    async def _join(
        self, subscription: Subscription, since: int | None = None, paged: bool = False
    ) -> None:
        if subscription.stream_name not in registry:
            self._send_error(
                "unknown_stream", f"unknown stream {subscription.stream_name!r}", subscription
            )
            return
        if subscription in self.subscriptions:
            # A re-join: bring the client up to date.
            self.subscriptions[subscription] = paged
            await self._answer_or_leave(subscription, since)
            return
        limit = engine_settings.STREAMS_MAX_SUBSCRIPTIONS
        if len(self.subscriptions) >= limit:
            self._send_error(
                "too_many_subscriptions", f"at most {limit} subscriptions a connection"
            )
            return
        if not await self._run_on_join(subscription):
            self._send(protocol.unauthorized_frame(subscription, now_ms()))
            return
        if self.out.closed:  # closed while on_join ran: nothing left to subscribe for
            return
        self.subscriptions[subscription] = paged
        await self._answer_or_leave(subscription, since, subscribe=True)

    async def _answer_or_leave(
        self, subscription: Subscription, since: int | None, subscribe: bool = False
    ) -> None:
        """Answer a join; when it cannot be answered, the join did not happen: the client is
        told so and may join again, and the socket and its other subscriptions go on."""
        try:
            await self._answer(subscription, since, subscribe)
        except GroupTooLarge as error:
            await self._leave(subscription)
            self._send_error("group_too_large", str(error), subscription)
        except Exception:
            # The group could not be read (the database down, say).
            logger.exception("could not answer the join of %r", subscription)
            await self._leave(subscription)
            self._send_error(
                "unavailable", "the group could not be read: join again later", subscription
            )

    async def _answer(
        self, subscription: Subscription, since: int | None, subscribe: bool = False
    ) -> None:
        """Send the join's answer, a snapshot or the frames missed since version ``since``,
        once the hub routes the group's frames here (``subscribe``: from now): frames arriving
        meanwhile are held and follow it, so none is lost and none is overwritten by an older
        snapshot. Those a replay already sent are not sent twice, held or still on their
        way."""
        key = _group_key(subscription)
        async with self._answering(key):
            if self.holds is None:
                self.holds = {}
            hold = self.holds[key] = self._hold(subscription)
            try:
                if subscribe:
                    assert self.hub is not None
                    await self.hub.subscribe(self, key, subscription.id)
                paged = self.subscriptions.get(subscription, False)
                part = await snapshot_reads().answer(subscription, since, paged)
                await self._send_answer(subscription, part, hold)
            finally:
                self._release(key, hold)

    def _hold(self, subscription: Subscription) -> Hold:
        # Half the outbox's bounds: what it holds goes to the outbox at once, after a page.
        max_frames = engine_settings.STREAMS_MAX_PENDING_FRAMES
        hold = Hold(max(1, max_frames // 2), engine_settings.STREAMS_MAX_PENDING_BYTES // 2)
        hold.item_id = subscription.id
        return hold

    def _release(self, key: GroupKey, hold: Hold) -> None:
        """Stop holding the group's frames and send those held (save what a replay sent)."""
        if self.holds is not None and self.holds.get(key) is hold:
            del self.holds[key]
            if not self.holds:
                self.holds = None
        for message, item_id, version in hold.take():
            self._deliver(message, key, item_id, version)

    @contextlib.asynccontextmanager
    async def _answering(self, key: GroupKey) -> AsyncIterator[None]:
        """One answer of a group at a time, in the order asked (a client matches answers to
        its joins by their order); the answers of other groups go on meanwhile."""
        if self.answering is None:
            self.answering = {}
        answering = self.answering  # (kept while this answer is in it)
        lock, users = answering.get(key) or (asyncio.Lock(), 0)
        answering[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = answering[key]
            if users > 1:
                answering[key] = (lock, users - 1)
            else:
                del answering[key]
                if not answering:
                    self.answering = None

    async def _send_answer(self, subscription: Subscription, part: AnswerPart, hold: Hold) -> None:
        """Send an answer part by part, each read once the socket has taken most of the one
        before; then the changes the hold had to drop (from the log), and its end."""
        key = _group_key(subscription)
        paged = self.subscriptions.get(subscription, False)
        first_page: int | None = None  # the version of a paged sync's first page
        while True:
            if part.kind == "page" and first_page is None:
                first_page = part.version
            elif part.kind == "sync":
                first_page = None  # (a replay turned into a sync: the log was pruned)
            for frame in part.frames:
                self._send(frame)
            if part.rest is None:
                break
            # The next part is read while the socket takes this one: about two parts held.
            reading = asyncio.ensure_future(db.run(answer_part, subscription, part.rest, paged))
            if not await self._paced(subscription):
                reading.cancel()
                return
            part = await reading
        # The changes that follow, from the log: those the hold had to drop; and for a sync in
        # pages (read at several versions) all since its first page, so that the assembly is
        # the group at one version, whatever the order the channel layer brings frames in.
        reached = first_page if first_page is not None else part.version
        timestamp, logged = part.timestamp, False
        wanted = first_page is not None and replay.log_size() > 0
        while wanted or (hold.dropped_to is not None and hold.dropped_to > reached):
            changes = await self._send_changes(subscription, reached)
            if changes is None:
                if not self._still_answering(subscription):
                    return
                if hold.dropped_to is not None and hold.dropped_to > reached:
                    self._shut(CLOSE_SLOW_CONSUMER, "the group changed faster than it was sent")
                    return
                break  # (a sync in pages whose log was pruned: the frames held serve)
            reached, timestamp = changes.version, changes.timestamp
            logged, wanted = True, False
        if part.kind == "replay" or logged:
            if self.replayed is None:
                self.replayed = {}
            self.replayed[key] = (reached, subscription.id)
        if part.kind == "replay":
            self._send(protocol.replayed_frame(subscription, timestamp, reached))
        elif part.kind == "page":
            if not logged:  # no log: the frames held up to the last page's version serve
                assert first_page is not None
                reached = await self._send_held(key, hold, first_page, part.version)
            self._send(protocol.synced_frame(subscription, timestamp, reached, part.pages))

    async def _send_changes(self, subscription: Subscription, after: int) -> AnswerPart | None:
        """Send the group's changes after version ``after`` from the log, a part at a time, up
        to the group's version; the last part (its version and timestamp are where the
        subscription is then), or None when the answer stops or the log no longer reaches
        back to them."""
        last, limit = None, FIRST_LIMIT
        while True:
            if not await self._paced(subscription):
                return None
            last = await db.run(tail_part, subscription, after, limit)
            if last is None:
                return None
            for frame in last.frames:
                self._send(frame)
            if last.rest is None:
                return last
            after, limit = last.version, last.rest.limit

    async def _send_held(self, key: GroupKey, hold: Hold, first: int, last: int) -> int:
        """Send the frames held up to version ``last``, once every change after ``first`` (the
        version of a paged sync's first page) up to it has come (the hub hands them over in
        version order), or the hub's wait for lost frames has passed; the version they bring
        the subscription to. Those after it follow as live frames."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LOST_AFTER_SECONDS
        while last > max(first, hold.last_seen or 0) and loop.time() < deadline:
            await asyncio.sleep(DRAIN_POLL_SECONDS)
        for message, item_id, version in hold.take(up_to=last):
            self._deliver(message, key, item_id, version)
        return min(last, max(first, hold.last_seen or 0))

    def _still_answering(self, subscription: Subscription) -> bool:
        return not self.out.closed and subscription in self.subscriptions

    async def _paced(self, subscription: Subscription) -> bool:
        """Wait until the socket has taken all but a page of what was sent to it; False when
        the answer must stop: the socket is closing, or the subscription was left."""
        await self.out.drained(engine_settings.STREAMS_SYNC_PAGE_BYTES)
        return self._still_answering(subscription)

    def resync(self, key: GroupKey) -> None:
        """Called by the hub: frames of the group may have been lost; send a fresh ``sync``
        for each subscription of it."""
        subscriptions = [s for s in self.subscriptions if _group_key(s) == key]
        if subscriptions and not self.out.closed:
            task = asyncio.get_running_loop().create_task(self._resync(subscriptions))
            if self.resyncs is None:
                self.resyncs = set()
            self.resyncs.add(task)
            task.add_done_callback(self.resyncs.discard)

    async def _resync(self, subscriptions: list[Subscription]) -> None:
        for subscription in subscriptions:
            if subscription in self.subscriptions and not self.out.closed:
                try:
                    await self._answer(subscription, None)
                except GroupTooLarge as error:  # (grown since the join)
                    await self._leave(subscription)
                    self._send_error("group_too_large", str(error), subscription)
                except Exception:
                    logger.exception("could not re-sync %r", subscription)

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

    def deliver(self, message: Message, key: GroupKey, item_id: str | None, version: int) -> None:
        """Called by the hub: send a frame's message (a change of ``item_id`` of group
        ``key``, if given), or hold it while a join of the group is answered."""
        hold = self.holds.get(key) if self.holds else None
        if hold is None:
            self._deliver(message, key, item_id, version)
        elif not hold.add(message, item_id, version):
            self._hold_overflowed(key, hold, version)

    def _deliver(self, message: Message, key: GroupKey, item_id: str | None, version: int) -> None:
        """Send a frame of the group, unless a replay sent it already."""
        if not (self.replayed and self._was_replayed(key, item_id, version)):
            self.out.write(message, _item_key(key, item_id))

    def _hold_overflowed(self, key: GroupKey, hold: Hold, version: int) -> None:
        """More frames of a group came while a join of it was answered than may wait: they
        are dropped and the answer goes on from the log, which holds them all, when its
        frames are all the socket wants of the group; otherwise it is a reader too slow for
        the group's changes."""
        scope = hold.item_id
        covered = scope is None or all(
            s.id == scope for s in self.subscriptions if _group_key(s) == key
        )
        if covered and replay.log_size() > 0:
            hold.drop(version)
        else:
            self._shut(CLOSE_SLOW_CONSUMER, "the group changed faster than it was sent")

    def _was_replayed(self, key: GroupKey, item_id: str | None, version: int) -> bool:
        """Whether a replay on this socket already sent this frame. The hub hands a group's
        frames over in version order, so once one past the replay comes, no earlier one will
        (save one it released late, which a client of ours drops if it took it)."""
        replayed = self.replayed.get(key) if self.replayed else None
        if replayed is None:
            return False
        reached, scope = replayed
        if version > reached:
            assert self.replayed is not None
            del self.replayed[key]
            if not self.replayed:
                self.replayed = None
            return False
        return scope is None or scope == item_id

    def _send_error(
        self, code: str, message: str, subscription: Subscription | None = None
    ) -> None:
        self._send(protocol.error_frame(code, message, now_ms(), subscription))

    def _send(self, frame: str) -> None:
        self.out.write({"type": "websocket.send", "text": frame})


def _group_key(subscription: Subscription) -> GroupKey:
    return (subscription.stream_name, subscription.group_id)


def _item_key(key: GroupKey, item_id: str | None) -> ItemKey | None:
    # Which item a frame is about, so that a slow reader's pending updates coalesce.
    return None if item_id is None else (key[0], key[1], item_id)


def _stream_logger(stream_name: str) -> FlowLogger:
    return FlowLogger("streams", step=f"stream:{stream_name}")
