"""A Python asyncio client for stream servers: the ``StreamClient`` API of Motia's streaming
guide, in Python.

It speaks the wire protocol of Motia's stream clients and keeps state by their
rules (:mod:`streams.client.state`), so it works against this project's server and gives the
same states as Motia's published clients. It needs only ``websockets`` (no Django), so scripts
and other services can use it::

    import asyncio

    from streams.client import StreamClient


    async def main() -> None:
        async with StreamClient("ws://localhost:8000", token="...") as client:
            client.on("disconnected", lambda: print("lost the server; reconnecting"))

            todos = client.group("todo", "todos")
            todos.on("*", lambda state: print("todos:", state))
            todos.on("create", lambda todo: print("new todo:", todo["description"]))
            todos.on("delete", lambda todo: print("deleted:", todo["id"]))

            alerts = client.group("notifications", "alerts")
            alerts.on_event("custom", lambda data: print("alert:", data["message"]))

            first = client.item("todo", "todos", "<todo id>")
            done = await first.wait_for(lambda todo: todo and todo.get("completedAt"), 60)
            print("completed at", done["completedAt"])

            todos.close()  # stop following the group (the leave goes out in the background)


    asyncio.run(main())

What it does:

- ``await client.connect()`` opens the socket (or raises :class:`StreamConnectionError` when the
  server cannot be reached or refuses the handshake) and joins every subscription made so far;
  ``group()`` and ``item()`` made later join at once. Each join is answered with a ``sync``
  (a large group's in pages, assembled before the state changes: it never shows part of one).
- One background task per client reads the frames and hands each to the subscriptions of its
  group or item. When the connection drops, the client emits ``'disconnected'``, reconnects with
  exponential backoff and jitter, emits ``'connected'`` and re-joins every open subscription
  with the last version it took: the server replays the frames it missed (each listener is
  called as if they had come live), or sends a ``sync`` when its log no longer reaches back.
- Callbacks may be plain functions or coroutine functions. They run in the reader task, in
  frame order (a coroutine is awaited before the next frame is taken), so keep them short; an
  exception in a callback is logged and does not stop the client.
- ``sub.close()`` is synchronous, like Motia's clients': the subscription stops at once and its
  ``leave`` is sent in the background; ``await sub.close()`` also waits until it is written.

Tokens (for a server with ``authenticate_stream``): ``token_in="subprotocol"`` (the default)
offers the ``Authorization, <token>`` subprotocol pair as browsers do; ``"query"`` adds
``?authToken=<token>`` to the URL; ``"header"`` sends ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import random
import uuid
from collections.abc import Callable, Generator, Iterable
from types import TracebackType
from typing import Any, Generic, Literal, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from .state import (
    Change,
    GroupState,
    ItemState,
    RoomKey,
    StreamMessage,
    Versions,
    room_key,
    rooms_for,
)

__all__ = [
    "GroupSubscription",
    "ItemSubscription",
    "StreamClient",
    "StreamClientError",
    "StreamConnectionError",
    "StreamServerError",
]

logger = logging.getLogger("streams.client")

Callback = Callable[..., Any]
TokenPlace = Literal["subprotocol", "query", "header"]
SUBSCRIPTION_EVENTS = frozenset(
    {"*", "create", "update", "delete", "sync", "event", "unauthorized"}
)
CLIENT_EVENTS = frozenset({"connected", "disconnected", "error"})
# A large group's sync comes in pages (of STREAMS_SYNC_PAGE_BYTES), but a frame still carries
# a whole item, and a server may send a group of many small ones in one sync: allow far more
# than websockets' 1 MiB default.
MAX_FRAME_BYTES = 64 * 1024 * 1024
DEFAULT_WAIT = 10.0

S = TypeVar("S")


class _State(Protocol[S]):
    """What a subscription keeps its state in: a :class:`GroupState` or an :class:`ItemState`."""

    state: S
    versions: Versions

    def apply(self, message: StreamMessage) -> Change | None: ...


class StreamClientError(Exception):
    """Base class of the errors of this client."""


class StreamConnectionError(StreamClientError):
    """The server could not be reached, or refused the WebSocket handshake.

    ``status_code`` is the HTTP status of a refused handshake (403 for a missing or bad token),
    or ``None`` when no HTTP answer came.
    """

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class StreamServerError(StreamClientError):
    """An ``error`` frame from the server (a frame it could not use; the socket stays open).

    Given to the client's ``'error'`` listeners, with the server's ``code`` (``unknown_stream``,
    ``too_many_subscriptions`` ...) and, when it names one, the stream and group concerned.
    """

    def __init__(
        self, code: str, message: str, stream_name: str | None, group_id: str | None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.stream_name = stream_name
        self.group_id = group_id


async def _call(callback: Callback, *args: Any) -> None:
    """Call a listener; await it if it is a coroutine; log (never raise) what it raises."""
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("stream client listener %r raised", callback)


class _Subscription(Generic[S]):
    """What group and item subscriptions share: listeners, state, waiting and closing."""

    def __init__(
        self,
        client: StreamClient,
        stream_name: str,
        group_id: str,
        item_id: str | None,
        state: _State[S],
    ) -> None:
        self._client = client
        self.stream_name = stream_name
        self.group_id = group_id
        self.id = item_id
        self.subscription_id = str(uuid.uuid4())
        self.closed = False
        self._state = state
        self._listeners: dict[str, list[Callback]] = {}
        self._event_listeners: dict[str, list[Callback]] = {}
        self._waiters: list[tuple[Callable[[S], Any], asyncio.Future[S]]] = []

    @property
    def room(self) -> RoomKey:
        return room_key(self.stream_name, self.group_id, self.id)

    def join_data(self, *, since: bool = False) -> dict[str, Any]:
        """The ``data`` of this subscription's ``join`` and ``leave`` frames; with ``since``,
        a join's: it takes a large group's sync in pages, and carries the last version taken
        (if any), so that the server replays what the subscription missed instead of sending
        a ``sync``."""
        data: dict[str, Any] = {"streamName": self.stream_name, "groupId": self.group_id}
        if self.id is not None:
            data["id"] = self.id
        data["subscriptionId"] = self.subscription_id
        if since:
            data["syncPages"] = True
            if self._state.versions.last is not None:
                data["sinceVersion"] = self._state.versions.last
        return data

    # --- listeners ----------------------------------------------------------------------------

    def on(self, event: str, callback: Callback) -> None:
        """Listen for ``event``:

        - ``'*'``: ``callback(state)`` after every change of the state;
        - ``'sync'``: ``callback(items or item)`` when the server (re)sends the whole state;
        - ``'create'`` / ``'update'``: ``callback(item)`` with the new item;
        - ``'delete'``: ``callback(item)`` with the item as it was;
        - ``'event'``: ``callback({"type": ..., "data": ...})`` for a custom event;
        - ``'unauthorized'``: ``callback(subscription)`` when ``on_join`` refused the join.
        """
        if event not in SUBSCRIPTION_EVENTS:
            raise ValueError(
                f"unknown subscription event {event!r}; "
                f"expected one of {', '.join(sorted(SUBSCRIPTION_EVENTS))}"
            )
        self._listeners.setdefault(event, []).append(callback)

    def off(self, event: str, callback: Callback) -> None:
        """Stop calling ``callback`` for ``event`` (nothing happens if it was not listening)."""
        with contextlib.suppress(ValueError):
            self._listeners.get(event, []).remove(callback)

    def on_event(self, event_type: str, callback: Callback) -> None:
        """Listen for custom events of one type: ``callback(data)`` (Motia's ``onEvent``)."""
        self._event_listeners.setdefault(event_type, []).append(callback)

    def off_event(self, event_type: str, callback: Callback) -> None:
        """Stop calling ``callback`` for custom events of ``event_type``."""
        with contextlib.suppress(ValueError):
            self._event_listeners.get(event_type, []).remove(callback)

    # --- state --------------------------------------------------------------------------------

    def get_state(self) -> S:
        """The current state (do not modify it; every change makes a new value)."""
        return self._state.state

    @property
    def state(self) -> S:
        """The current state, as :meth:`get_state`."""
        return self.get_state()

    async def wait_for(
        self, predicate: Callable[[S], Any], timeout: float | None = DEFAULT_WAIT
    ) -> S:
        """Wait until ``predicate(state)`` is true; return that state.

        Checked now and after every change. Raises :class:`TimeoutError` (with the last state
        in its message) if that does not happen within ``timeout`` seconds (``None``: no
        limit).
        """
        state = self.get_state()
        if predicate(state):
            return state
        future: asyncio.Future[S] = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"{self!r}: no state satisfied the condition within {timeout}s; "
                f"last state: {self.get_state()!r:.2000}"
            ) from None
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    # --- frames -------------------------------------------------------------------------------

    async def _receive(self, message: StreamMessage) -> None:
        """Apply one frame routed here and call the listeners it concerns."""
        if self.closed:
            return
        change = self._state.apply(message)
        if change is None:
            return
        if change.state_changed:
            self._check_waiters()
        await self._notify(change)

    def _check_waiters(self) -> None:
        state = self.get_state()
        for predicate, future in list(self._waiters):
            if future.done():
                continue
            try:
                if predicate(state):
                    future.set_result(state)
            except Exception as error:  # a failing predicate fails its wait, not the client
                future.set_exception(error)

    async def _notify(self, change: Change) -> None:
        if change.kind == "unauthorized":
            for callback in list(self._listeners.get("unauthorized", ())):
                await _call(callback, self)
            return
        for callback in list(self._listeners.get(change.kind, ())):
            await _call(callback, change.data)
        if change.kind == "event" and isinstance(change.data, dict):
            event_type = change.data.get("type")
            if isinstance(event_type, str):
                for callback in list(self._event_listeners.get(event_type, ())):
                    await _call(callback, change.data.get("data"))
        if change.state_changed:
            for callback in list(self._listeners.get("*", ())):
                await _call(callback, self.get_state())

    # --- closing ------------------------------------------------------------------------------

    def close(self) -> _Closing:
        """Stop this subscription: no more frames or listener calls, and a ``leave`` to the
        server, sent in the background. The state stays as it was.

        Synchronous, like Motia's clients' ``close()``; the result may be awaited to wait until the
        ``leave`` has been written. Closing twice does nothing.
        """
        if self.closed:
            return _Closing(None)
        self.closed = True
        for _, future in self._waiters:
            if not future.done():
                future.set_exception(StreamClientError(f"{self!r} was closed while waited for"))
        return _Closing(self._client._forget(self))

    def __repr__(self) -> str:
        where = f"{self.stream_name}/{self.group_id}"
        if self.id is not None:
            where += f"/{self.id}"
        return f"<{type(self).__name__} {where}{' closed' if self.closed else ''}>"


class _Closing:
    """What :meth:`_Subscription.close` returns: ignorable, or awaitable for the leave."""

    def __init__(self, task: asyncio.Task[None] | None) -> None:
        self._task = task

    def __await__(self) -> Generator[Any, None, None]:
        if self._task is not None:
            yield from self._task.__await__()


class GroupSubscription(_Subscription[list[dict[str, Any]]]):
    """A live copy of one group of a stream: a list of its items, kept up to date.

    Made by :meth:`StreamClient.group`; its state starts as ``[]`` and becomes the group's
    items at the first ``sync``.
    """

    def __init__(self, client: StreamClient, stream_name: str, group_id: str) -> None:
        super().__init__(client, stream_name, group_id, None, GroupState())


class ItemSubscription(_Subscription[dict[str, Any] | None]):
    """A live copy of one item of a stream: the item, or ``None`` while it does not exist.

    Made by :meth:`StreamClient.item`.
    """

    def __init__(self, client: StreamClient, stream_name: str, group_id: str, item_id: str) -> None:
        super().__init__(client, stream_name, group_id, item_id, ItemState())


class StreamClient:
    """A connection to a stream server that keeps group and item subscriptions live.

    ``url`` is the server's WebSocket address (``ws://host:port`` or ``.../streams/``).
    ``token`` is sent as ``token_in`` says (see the module's docstring); ``protocols`` are
    further subprotocols to offer. With ``reconnect`` (the default) a lost connection is
    re-opened after ``min_backoff`` seconds, doubling up to ``max_backoff``, with jitter.
    ``open_timeout`` bounds each opening handshake.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        token_in: TokenPlace = "subprotocol",
        protocols: Iterable[str] | None = None,
        reconnect: bool = True,
        min_backoff: float = 0.5,
        max_backoff: float = 10.0,
        open_timeout: float = 10.0,
    ) -> None:
        if token_in not in ("subprotocol", "query", "header"):
            raise ValueError(
                f"token_in must be 'subprotocol', 'query' or 'header', not {token_in!r}"
            )
        if min_backoff <= 0 or max_backoff < min_backoff:
            raise ValueError("need 0 < min_backoff <= max_backoff")
        self.url = url
        self.token = token
        self.token_in = token_in
        self.protocols = list(protocols or [])
        self.reconnect = reconnect
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.open_timeout = open_timeout
        self._subscriptions: dict[str, _Subscription[Any]] = {}
        self._rooms: dict[RoomKey, list[_Subscription[Any]]] = {}
        self._listeners: dict[str, list[Callback]] = {}
        self._ws: ClientConnection | None = None
        self._runner: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self._closing = False

    # --- connection ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the socket is open now."""
        return self._ws is not None

    async def connect(self) -> None:
        """Open the connection and join every open subscription.

        Raises :class:`StreamConnectionError` if the server cannot be reached or refuses the
        handshake (no retry: reconnecting is for connections that were open). Does nothing if
        the client is already connected or reconnecting.
        """
        if self._runner is not None and not self._runner.done():
            return
        self._closing = False
        ws = await self._open()
        self._ws = ws
        self._runner = asyncio.get_running_loop().create_task(
            self._run(ws), name=f"stream client {self.url}"
        )
        await self._opened(ws)

    async def disconnect(self) -> None:
        """Close the connection for good (no reconnect) and emit ``'disconnected'`` if it was
        open. Subscriptions keep their last state; ``connect()`` again re-joins them."""
        self._closing = True
        ws, self._ws = self._ws, None
        runner, self._runner = self._runner, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if self._sends:  # joins and leaves still queued: they end at once on a closed socket
            await asyncio.wait(list(self._sends), timeout=1.0)
        if runner is not None and runner is not asyncio.current_task():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        if ws is not None:
            await self._emit("disconnected")

    async def __aenter__(self) -> StreamClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()

    def _target(self) -> tuple[str, dict[str, Any]]:
        """The URL and ``websockets`` options of a handshake."""
        url = self.url
        subprotocols = list(self.protocols)
        headers: dict[str, str] = {}
        if self.token is not None:
            if self.token_in == "subprotocol":
                subprotocols = ["Authorization", self.token, *subprotocols]
            elif self.token_in == "header":
                headers["Authorization"] = f"Bearer {self.token}"
            else:
                parts = urlsplit(url)
                query = [*parse_qsl(parts.query, keep_blank_values=True)]
                query.append(("authToken", self.token))
                url = urlunsplit(parts._replace(query=urlencode(query)))
        options: dict[str, Any] = {
            "open_timeout": self.open_timeout,
            "max_size": MAX_FRAME_BYTES,
        }
        if subprotocols:
            options["subprotocols"] = subprotocols
        if headers:
            options["additional_headers"] = headers
        return url, options

    async def _open(self) -> ClientConnection:
        url, options = self._target()
        shown = self.url  # never the URL with a token in it
        try:
            return await ws_connect(url, **options)
        except InvalidStatus as error:
            status = error.response.status_code
            raise StreamConnectionError(
                f"the server at {shown} refused the WebSocket handshake with HTTP {status}"
                + (" (missing or invalid token?)" if status in (401, 403) else ""),
                status_code=status,
            ) from None
        except TimeoutError:
            raise StreamConnectionError(
                f"no WebSocket handshake with {shown} within {self.open_timeout}s"
            ) from None
        except (OSError, WebSocketException) as error:
            raise StreamConnectionError(f"cannot connect to {shown}: {error}") from None

    async def _opened(self, ws: ClientConnection) -> None:
        """A socket is open: tell the listeners, then join every subscription."""
        await self._emit("connected")
        for subscription in list(self._subscriptions.values()):
            if ws is not self._ws:
                return  # it closed meanwhile; the reader reconnects and joins again
            with contextlib.suppress(ConnectionClosed):
                data = subscription.join_data(since=True)
                await ws.send(json.dumps({"type": "join", "data": data}))

    async def _run(self, ws: ClientConnection) -> None:
        """The reader: take frames until the socket closes, then reconnect (or stop)."""
        while True:
            try:
                async for text in ws:
                    try:
                        await self._handle(text)
                    except Exception:
                        logger.exception("stream client could not handle a frame: %r", text[:200])
            except ConnectionClosed:
                pass
            if self._closing:
                return
            self._ws = None
            await self._emit("disconnected")
            if not self.reconnect or self._closing:
                self._runner = None
                return
            reopened = await self._reopen()
            if reopened is None:
                return
            ws = self._ws = reopened
            await self._opened(ws)

    async def _reopen(self) -> ClientConnection | None:
        """Open a new socket, retrying with exponential backoff and jitter; ``None`` if
        ``disconnect()`` was called meanwhile (from a listener)."""
        attempt = 0
        while not self._closing:
            delay = min(self.max_backoff, self.min_backoff * 2**attempt)
            await asyncio.sleep(delay / 2 + random.uniform(0, delay / 2))
            attempt += 1
            try:
                ws = await self._open()
            except StreamConnectionError as error:
                logger.debug("reconnect attempt %d failed: %s", attempt, error)
                await self._emit("error", error)
                continue
            if self._closing:
                await ws.close()
                return None
            return ws
        return None

    # --- frames -------------------------------------------------------------------------------

    async def _handle(self, text: str | bytes) -> None:
        try:
            message = StreamMessage.from_json(json.loads(text))
        except ValueError:  # JSONDecodeError is a ValueError too
            logger.warning("ignoring a frame that is not a stream frame: %r", text[:200])
            return
        if message.kind == "error":
            data = message.data if isinstance(message.data, dict) else {}
            error = StreamServerError(
                str(data.get("code", "error")),
                str(data.get("message", "")),
                message.stream_name,
                message.group_id,
            )
            await self._emit("error", error)
            return
        for room in rooms_for(message):
            for subscription in list(self._rooms.get(room, ())):
                await subscription._receive(message)

    # --- subscriptions ------------------------------------------------------------------------

    def group(self, stream_name: str, group_id: str) -> GroupSubscription:
        """Follow a group of a stream; joins now if connected, else when connecting."""
        subscription = GroupSubscription(self, stream_name, group_id)
        self._add(subscription)
        return subscription

    def item(self, stream_name: str, group_id: str, item_id: str) -> ItemSubscription:
        """Follow one item of a stream's group; joins now if connected, else when connecting."""
        if not item_id:
            raise ValueError("an item subscription needs a non-empty item id")
        subscription = ItemSubscription(self, stream_name, group_id, item_id)
        self._add(subscription)
        return subscription

    def _add(self, subscription: _Subscription[Any]) -> None:
        self._subscriptions[subscription.subscription_id] = subscription
        self._rooms.setdefault(subscription.room, []).append(subscription)
        self._send_soon("join", subscription)

    def _forget(self, subscription: _Subscription[Any]) -> asyncio.Task[None] | None:
        self._subscriptions.pop(subscription.subscription_id, None)
        members = self._rooms.get(subscription.room, [])
        if subscription in members:
            members.remove(subscription)
        if not members:
            self._rooms.pop(subscription.room, None)
        return self._send_soon("leave", subscription)

    def _send_soon(
        self, kind: Literal["join", "leave"], subscription: _Subscription[Any]
    ) -> asyncio.Task[None] | None:
        """Send a join or leave from synchronous code: in a task, in call order (each task
        writes its frame when it first runs, and tasks first run in the order made)."""
        ws = self._ws
        if ws is None:
            return None  # a join waits for connect(); a leave is moot without a socket
        text = json.dumps({"type": kind, "data": subscription.join_data(since=kind == "join")})

        async def send() -> None:
            with contextlib.suppress(ConnectionClosed):  # the reconnect re-joins anyway
                await ws.send(text)

        task = asyncio.get_running_loop().create_task(send())
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)
        return task

    # --- client events ------------------------------------------------------------------------

    def on(self, event: str, callback: Callback) -> None:
        """Listen for ``'connected'`` (``callback()``), ``'disconnected'`` (``callback()``)
        or ``'error'`` (``callback(error)``: a :class:`StreamServerError` for an ``error``
        frame, a :class:`StreamConnectionError` for a failed reconnect attempt)."""
        if event not in CLIENT_EVENTS:
            raise ValueError(
                f"unknown client event {event!r}; expected one of "
                f"{', '.join(sorted(CLIENT_EVENTS))}"
            )
        self._listeners.setdefault(event, []).append(callback)

    def off(self, event: str, callback: Callback) -> None:
        """Stop calling ``callback`` for ``event``."""
        with contextlib.suppress(ValueError):
            self._listeners.get(event, []).remove(callback)

    async def _emit(self, event: str, *args: Any) -> None:
        for callback in list(self._listeners.get(event, ())):
            await _call(callback, *args)

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<StreamClient {self.url} {state}, {len(self._subscriptions)} subscriptions>"
