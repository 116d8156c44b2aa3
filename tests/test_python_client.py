"""The Python stream client (:mod:`streams.client.stream_client`) against real servers.

Servers are real ``manage.py runserver`` processes on fresh databases
(:mod:`tests.helpers.processes`); changes are made with HTTP calls to the todo and notify
steps. A small in-process WebSocket server stands in where no real stream behaves as needed (a
join refused by ``on_join``), and shows the exact frames the client sends. Every wait is
bounded.
"""

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from websockets.asyncio.server import ServerConnection, serve

from streams.client.stream_client import (
    StreamClient,
    StreamClientError,
    StreamConnectionError,
    StreamServerError,
    TokenPlace,
)
from streams.sockets.tokens import issue_token
from tests.helpers.passes import embedded_pass_only
from tests.helpers.processes import ROOT, ServerProcess, Start, TestDatabase, free_port
from tests.helpers.todo_api import complete_todo, completed, create_todo, delete_todo
from tests.helpers.waiting import eventually_async

# What this file checks does not depend on the database or the channel layer: it runs once,
# in the embedded pass.
pytestmark = embedded_pass_only

WAIT = 5.0  # seconds for any one expected state or event
RECONNECT_WAIT = 30.0  # a server restart: process start, Django setup, then a backoff step


# --- helpers (server, auth_server: tests/conftest.py) -----------------------------------------


async def notify(http: httpx.AsyncClient, group_id: str, message: str) -> None:
    response = await http.post("/notify", json={"groupId": group_id, "message": message})
    assert response.status_code == 200, response.text


def ids(todos: list[dict[str, Any]]) -> list[str]:
    return [todo["id"] for todo in todos]


def record(log: list[tuple[str, Any]], event: str) -> Callable[[Any], None]:
    """A listener that appends ``(event, argument)`` to ``log``."""
    return lambda value: log.append((event, value))


def record_all(subscription: Any) -> list[tuple[str, Any]]:
    """Every listener call of a subscription, in order."""
    log: list[tuple[str, Any]] = []
    for event in ("*", "sync", "create", "update", "delete", "event", "unauthorized"):
        subscription.on(event, record(log, event))
    return log


# --- group and item subscriptions -------------------------------------------------------------


async def test_group_and_item_follow_todo_changes(server: ServerProcess) -> None:
    """States and listener calls of a group and an item through create, complete, delete."""
    async with server.http_client(WAIT) as http:
        first = await create_todo(http, "write the client")
        async with StreamClient(server.ws_url) as client:
            assert client.connected
            todos = client.group("todo", "todos")
            item = client.item("todo", "todos", first["id"])
            group_log, item_log = record_all(todos), record_all(item)
            created: list[dict[str, Any]] = []

            async def on_create(todo: dict[str, Any]) -> None:  # coroutine listeners work too
                await asyncio.sleep(0)
                created.append(todo)

            todos.on("create", on_create)

            assert await todos.wait_for(lambda state: state == [first], WAIT) == [first]
            assert await item.wait_for(lambda state: state == first, WAIT) == first

            second = await create_todo(http, "test it")
            await todos.wait_for(lambda state: state == [first, second], WAIT)

            await complete_todo(http, first["id"])
            group = await todos.wait_for(lambda s: len(s) == 2 and completed(s[0]), WAIT)
            done = await item.wait_for(completed, WAIT)
            assert group == [done, second]
            assert done is not None
            assert {k: v for k, v in done.items() if k not in ("completedAt", "metadata")} == first

            await delete_todo(http, first["id"])
            await todos.wait_for(lambda state: state == [second], WAIT)
            await item.wait_for(lambda state: state is None, WAIT)
            assert todos.get_state() == [second]
            assert item.get_state() is None

    assert group_log == [
        ("sync", [first]),
        ("*", [first]),
        ("create", second),
        ("*", [first, second]),
        ("update", done),
        ("*", [done, second]),
        ("delete", done),
        ("*", [second]),
    ]
    assert item_log == [
        ("sync", first),
        ("*", first),
        ("update", done),
        ("*", done),
        ("delete", done),
        ("*", None),
    ]
    assert created == [second]


async def test_custom_events_reach_their_group_only(server: ServerProcess) -> None:
    """POST /notify sends a ``custom`` event: ``'event'`` and ``on_event`` listeners get it,
    the state stays as it is, and another group hears nothing of it."""
    async with server.http_client(WAIT) as http, StreamClient(server.ws_url) as client:
        alerts = client.group("notifications", "alerts")
        other = client.group("notifications", "other")
        alerts_log, other_log = record_all(alerts), record_all(other)
        typed: list[Any] = []
        alerts.on_event("custom", typed.append)
        alerts.on_event("something-else", typed.append)
        await eventually_async(
            lambda: ("sync", []) in alerts_log and ("sync", []) in other_log, "both synced", WAIT
        )

        await notify(http, "alerts", "hello")
        await eventually_async(lambda: typed, "the custom event", WAIT)
        await notify(http, "other", "for the other group")
        await eventually_async(lambda: len(other_log) == 3, "the other group's event", WAIT)

    [(_, event)] = [entry for entry in alerts_log if entry[0] == "event"]
    assert event == {
        "type": "custom",
        "data": {"message": "hello", "timestamp": event["data"]["timestamp"]},
    }
    assert isinstance(event["data"]["timestamp"], int)
    assert typed == [event["data"]]
    assert alerts_log == [("sync", []), ("*", []), ("event", event)]
    assert other_log[2][1]["data"]["message"] == "for the other group"
    assert alerts.get_state() == []


async def test_an_unknown_stream_is_reported_as_an_error(server: ServerProcess) -> None:
    """The server's ``error`` frame reaches the client's ``'error'`` listeners; the
    connection stays usable."""
    async with StreamClient(server.ws_url) as client:
        errors: list[BaseException] = []
        client.on("error", errors.append)
        client.group("no-such-stream", "g")
        await eventually_async(lambda: errors, "an error", WAIT)
        [error] = errors
        assert isinstance(error, StreamServerError)
        assert (error.code, error.stream_name, error.group_id) == (
            "unknown_stream",
            "no-such-stream",
            "g",
        )
        todos = client.group("todo", "todos")
        synced = asyncio.get_running_loop().create_future()
        todos.on("sync", synced.set_result)
        assert await asyncio.wait_for(synced, WAIT) == []
        assert client.connected


# --- connection lifecycle -------------------------------------------------------------------


async def test_reconnects_after_a_server_restart_and_resyncs(
    database: TestDatabase, start: Start
) -> None:
    """Server A stops; while it is down the todos change through server B (same database);
    A starts again on the same port: the client reconnects, re-joins, its states are those of
    the database, and new changes arrive again."""
    server_a = start(ServerProcess(database, name="server-A"))
    server_b = start(ServerProcess(database, name="server-B"))
    async with server_a.http_client(WAIT) as http_a, server_b.http_client(WAIT) as http_b:
        first = await create_todo(http_a, "deleted while away")
        second = await create_todo(http_a, "completed while away")

        client = StreamClient(server_a.ws_url, min_backoff=0.1, max_backoff=0.5)
        happened: list[str] = []
        errors: list[BaseException] = []
        client.on("connected", lambda: happened.append("connected"))
        client.on("disconnected", lambda: happened.append("disconnected"))
        client.on("error", errors.append)
        # Made before connecting: joined by connect().
        todos = client.group("todo", "todos")
        gone = client.item("todo", "todos", first["id"])
        changed = client.item("todo", "todos", second["id"])

        async with client:
            await todos.wait_for(lambda state: state == [first, second], WAIT)
            await gone.wait_for(lambda state: state == first, WAIT)
            await changed.wait_for(lambda state: state == second, WAIT)
            assert happened == ["connected"]

            await asyncio.to_thread(server_a.stop)
            await eventually_async(
                lambda: happened == ["connected", "disconnected"], "disconnected", WAIT
            )
            assert not client.connected

            third = await create_todo(http_b, "made while away")
            await delete_todo(http_b, first["id"])
            await complete_todo(http_b, second["id"])

            await asyncio.to_thread(server_a.restart)
            await eventually_async(
                lambda: happened == ["connected", "disconnected", "connected"],
                "reconnected",
                RECONNECT_WAIT,
            )
            group = await todos.wait_for(
                lambda s: ids(s) == [second["id"], third["id"]] and completed(s[0]), WAIT
            )
            assert group[1] == third
            await gone.wait_for(lambda state: state is None, WAIT)
            await changed.wait_for(completed, WAIT)

            fourth = await create_todo(http_a, "made after the restart")
            await todos.wait_for(lambda state: state == [*group, fourth], WAIT)

        assert happened == ["connected", "disconnected", "connected", "disconnected"]
        assert all(isinstance(error, StreamConnectionError) for error in errors), errors


# --- token authentication -------------------------------------------------------------------


@pytest.mark.parametrize("token_in", ["subprotocol", "query", "header"])
async def test_token_lets_the_client_in(auth_server: ServerProcess, token_in: TokenPlace) -> None:
    """A valid token, sent as the ``Authorization`` subprotocol pair, as ``?authToken=`` or as
    a bearer header, is accepted; the group syncs and follows a new todo."""
    token = issue_token("u1", "user")
    async with (
        auth_server.http_client(WAIT) as http,
        StreamClient(auth_server.ws_url, token=token, token_in=token_in) as client,
    ):
        todos = client.group("todo", "todos")
        synced = asyncio.get_running_loop().create_future()
        todos.on("sync", synced.set_result)
        before = await asyncio.wait_for(synced, WAIT)
        todo = await create_todo(http, f"token in {token_in}")
        await todos.wait_for(lambda state: state == [*before, todo], WAIT)


@pytest.mark.parametrize("token_in", ["subprotocol", "query", "header"])
@pytest.mark.parametrize("token", [None, "not-a-token"])
async def test_a_refused_handshake_raises(
    auth_server: ServerProcess, token: str | None, token_in: TokenPlace
) -> None:
    """No token, or a bad one: ``connect()`` raises :class:`StreamConnectionError` (HTTP 403)
    and the client stays disconnected."""
    client = StreamClient(auth_server.ws_url, token=token, token_in=token_in)
    client.group("todo", "todos")
    with pytest.raises(StreamConnectionError, match="refused the WebSocket handshake") as refused:
        await client.connect()
    assert refused.value.status_code == 403
    assert token is None or token not in str(refused.value)
    assert not client.connected
    await client.disconnect()  # harmless


async def test_an_unreachable_server_raises() -> None:
    client = StreamClient(f"ws://127.0.0.1:{free_port()}/", open_timeout=WAIT)
    with pytest.raises(StreamConnectionError, match="cannot connect") as refused:
        await client.connect()
    assert refused.value.status_code is None


# --- exact frames, refused joins and closing, with a stand-in server --------------------------


class StandIn:
    """An in-process WebSocket server that answers joins like ours, except that it refuses
    every join of the stream ``secret`` with an ``unauthorized`` frame."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.connections: list[ServerConnection] = []
        self.url = ""

    async def handle(self, ws: ServerConnection) -> None:
        self.connections.append(ws)
        async for text in ws:
            message = json.loads(text)
            self.received.append(message)
            data = message["data"]
            if message["type"] != "join":
                continue
            if data["streamName"] == "secret":
                event: dict[str, Any] = {"type": "unauthorized"}
            else:
                event = {"type": "sync", "data": [] if "id" not in data else None}
            frame = {
                "type": "stream",
                "timestamp": 1,
                "streamName": data["streamName"],
                "groupId": data["groupId"],
                "id": data.get("id"),
                "event": event,
            }
            await ws.send(json.dumps(frame))


@contextlib.asynccontextmanager
async def stand_in() -> AsyncIterator[StandIn]:
    fake = StandIn()
    async with serve(fake.handle, "127.0.0.1", 0) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        fake.url = f"ws://127.0.0.1:{port}/"
        yield fake


async def test_frames_sent_and_refused_joins() -> None:
    """The client sends Motia's join and leave frames; a refused join reaches
    ``'unauthorized'`` listeners; a closed subscription hears nothing more."""
    async with stand_in() as fake, StreamClient(fake.url, reconnect=False) as client:
        group = client.group("todo", "todos")
        item = client.item("todo", "todos", "t1")
        refused: list[Any] = []
        secret = client.item("secret", "vault", "k")
        secret.on("unauthorized", refused.append)
        await eventually_async(lambda: refused == [secret], "the refusal", WAIT)

        await group.close()  # awaitable: the leave has been written
        group.close()  # a second close does nothing
        await eventually_async(lambda: len(fake.received) == 4, "the leave", WAIT)
        joins = fake.received[:3]
        assert joins == [
            {
                "type": "join",
                "data": {
                    "streamName": "todo",
                    "groupId": "todos",
                    "subscriptionId": group.subscription_id,
                    "syncPages": True,
                },
            },
            {
                "type": "join",
                "data": {
                    "streamName": "todo",
                    "groupId": "todos",
                    "id": "t1",
                    "subscriptionId": item.subscription_id,
                    "syncPages": True,
                },
            },
            {
                "type": "join",
                "data": {
                    "streamName": "secret",
                    "groupId": "vault",
                    "id": "k",
                    "subscriptionId": secret.subscription_id,
                    "syncPages": True,
                },
            },
        ]
        leave = {k: v for k, v in joins[0]["data"].items() if k != "syncPages"}  # (a join's)
        assert fake.received[3] == {"type": "leave", "data": leave}
        assert group.closed
        assert group.get_state() == []

        # wait_for is bounded, and says what it last saw.
        with pytest.raises(TimeoutError, match="last state: None"):
            await item.wait_for(lambda state: state is not None, 0.2)

        # A wait on a subscription that gets closed ends with an error, not a hang.
        waiting = asyncio.ensure_future(item.wait_for(lambda state: False, WAIT))
        await asyncio.sleep(0)
        item.close()
        with pytest.raises(StreamClientError, match="closed"):
            await waiting


async def test_without_reconnect_a_lost_connection_stays_lost() -> None:
    """With ``reconnect=False`` the client emits ``'disconnected'`` once and stays down;
    ``connect()`` opens it again and re-joins what is still open."""
    async with stand_in() as fake:
        client = StreamClient(fake.url, reconnect=False)
        happened: list[str] = []
        client.on("connected", lambda: happened.append("connected"))
        client.on("disconnected", lambda: happened.append("disconnected"))
        todos = client.group("todo", "todos")
        await client.connect()
        await client.connect()  # already connected: nothing happens
        await eventually_async(lambda: len(fake.received) == 1, "the join", WAIT)
        await fake.connections[0].close()
        await eventually_async(
            lambda: happened == ["connected", "disconnected"], "disconnected", WAIT
        )
        await asyncio.sleep(0.3)
        assert happened == ["connected", "disconnected"]
        assert not client.connected

        await client.connect()
        await eventually_async(lambda: len(fake.received) == 2, "the re-join", WAIT)
        assert fake.received[1]["data"]["subscriptionId"] == todos.subscription_id
        await client.disconnect()
        assert happened == ["connected", "disconnected", "connected", "disconnected"]


def test_listeners_are_checked() -> None:
    client = StreamClient("ws://127.0.0.1:1/")
    with pytest.raises(ValueError, match="unknown client event"):
        client.on("open", print)
    with pytest.raises(ValueError, match="unknown subscription event"):
        client.group("todo", "todos").on("change", print)
    with pytest.raises(ValueError, match="token_in"):
        StreamClient("ws://127.0.0.1:1/", token="t", token_in="cookie")  # type: ignore[arg-type]  # refused on purpose


def test_importable_without_django() -> None:
    """Scripts and other services can use the client without setting up Django."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import sys; import streams.client.stream_client; "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'channels')); "
        "assert not loaded, loaded"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
