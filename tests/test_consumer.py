"""The stream consumer over Channels' WebsocketCommunicator: protocol, routing and hooks."""

import asyncio
import gc
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator

from motia_site.asgi import application
from streams import StreamConfig, Subscription
from streams.publishing import published
from streams.sockets import StreamConsumer
from streams.storage.store import Stream
from tests.helpers.wire import join_message

pytestmark = pytest.mark.django_db(transaction=True)

Join = Callable[..., Any]


def join_frame(stream: str, group: str, item: str | None = None, kind: str = "join") -> dict:
    """A join (or leave) whose subscription id is the same for the same group or item."""
    subscription = "s" if item is None else f"s-{item}"
    return join_message(stream, group, item, subscription=subscription, kind=kind)


async def connect(path: str = "/", **kwargs: Any) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, path, **kwargs)
    connected, _ = await comm.connect()
    assert connected
    return comm


async def join(comm: WebsocketCommunicator, stream: str, group: str, item: str | None = None):
    await comm.send_json_to(join_frame(stream, group, item))
    frame = await comm.receive_json_from(timeout=5)
    assert frame["event"]["type"] == "sync", frame
    return frame


@pytest.fixture
def notes(define_stream: Callable[..., StreamConfig]) -> Stream:
    return Stream(define_stream("notes"))


@pytest.fixture
async def client() -> AsyncIterator[WebsocketCommunicator]:
    comm = await connect()
    yield comm
    await comm.disconnect()


async def test_group_and_item_sync(notes: Stream, client: WebsocketCommunicator) -> None:
    await notes.set("g", "a", {"n": 1})
    await notes.set("g", "b", {"n": 2})
    group = await join(client, "notes", "g")
    assert group["id"] is None
    assert group["streamName"] == "notes"
    assert group["groupId"] == "g"
    assert group["event"]["data"] == [{"id": "a", "n": 1}, {"id": "b", "n": 2}]
    item = await join(client, "notes", "g", "b")
    assert item["id"] == "b"
    assert item["event"]["data"] == {"id": "b", "n": 2}
    missing = await join(client, "notes", "g", "zzz")
    assert missing["event"]["data"] is None
    empty = await join(client, "notes", "empty-group")
    assert empty["event"]["data"] == []


async def test_changes_are_routed_to_group_and_item_subscribers(notes: Stream) -> None:
    group_sub, item_sub, other_item_sub = await connect(), await connect(), await connect()
    await join(group_sub, "notes", "g")
    await join(item_sub, "notes", "g", "a")
    await join(other_item_sub, "notes", "g", "b")

    await notes.set("g", "a", {"n": 1})
    await notes.update("g", "a", [{"type": "increment", "path": "n"}])
    await notes.delete("g", "a")
    for comm in (group_sub, item_sub):
        frames = [await comm.receive_json_from(timeout=5) for _ in range(3)]
        assert [(f["event"]["type"], f["id"]) for f in frames] == [
            ("create", "a"),
            ("update", "a"),
            ("delete", "a"),
        ]
        assert frames[0]["event"]["data"] == {"id": "a", "n": 1}
        assert frames[1]["event"]["data"] == {"id": "a", "n": 2}, "update carries the whole item"
        assert frames[2]["event"]["data"] == {"id": "a", "n": 2}, "delete carries the old item"
    assert await other_item_sub.receive_nothing(timeout=0.3)

    await notes.set("other-group", "a", {"n": 9})
    for comm in (group_sub, item_sub, other_item_sub):
        assert await comm.receive_nothing(timeout=0.2)
        await comm.disconnect()


async def test_custom_events_reach_group_subscribers_and_named_items(notes: Stream) -> None:
    group_sub, item_sub = await connect(), await connect()
    await join(group_sub, "notes", "room")
    await join(item_sub, "notes", "room", "x")
    await notes.send({"groupId": "room"}, {"type": "custom", "data": {"message": "hi"}})
    frame = await group_sub.receive_json_from(timeout=5)
    assert frame["id"] is None
    custom = {"type": "custom", "data": {"message": "hi"}}
    assert frame["event"] == {"type": "event", "event": custom}
    assert await item_sub.receive_nothing(timeout=0.3), "a group event is for group subscribers"

    await notes.send({"groupId": "room", "id": "x"}, {"type": "ping", "data": 1})
    for comm in (group_sub, item_sub):
        frame = await comm.receive_json_from(timeout=5)
        assert frame["id"] == "x"
        assert frame["event"]["event"] == {"type": "ping", "data": 1}
        await comm.disconnect()


async def processed(comm: WebsocketCommunicator) -> None:
    """Wait until the consumer has handled every frame sent so far (frames are handled in
    order, and a join is answered)."""
    await join(comm, "notes", f"barrier-{uuid.uuid4()}")


async def test_leave_stops_delivery(notes: Stream, client: WebsocketCommunicator) -> None:
    await join(client, "notes", "g")
    await join(client, "notes", "g", "a")
    await client.send_json_to(join_frame("notes", "g", kind="leave"))
    await processed(client)
    await notes.set("g", "a", {"n": 1})
    frame = await client.receive_json_from(timeout=5)
    assert frame["id"] == "a", "the item subscription still gets its item"
    await client.send_json_to(join_frame("notes", "g", "a", kind="leave"))
    await processed(client)
    await notes.set("g", "a", {"n": 2})
    await notes.set("g", "b", {"n": 1})
    assert await client.receive_nothing(timeout=0.3)


async def test_one_frame_per_socket_even_with_group_and_item_subscriptions(
    notes: Stream, client: WebsocketCommunicator
) -> None:
    # Motia's clients route one frame to both the item's and the group's listeners.
    await join(client, "notes", "g")
    await join(client, "notes", "g", "a")
    await notes.set("g", "a", {"n": 1})
    assert (await client.receive_json_from(timeout=5))["event"]["type"] == "create"
    assert await client.receive_nothing(timeout=0.3)


async def test_timestamps_strictly_increase_over_rapid_updates(
    notes: Stream, client: WebsocketCommunicator
) -> None:
    await join(client, "notes", "g", "a")
    for n in range(20):
        await notes.set("g", "a", {"n": n})
    frames = [await client.receive_json_from(timeout=5) for _ in range(20)]
    stamps = [f["timestamp"] for f in frames]
    assert all(later > earlier for earlier, later in itertools.pairwise(stamps))
    assert [f["event"]["data"]["n"] for f in frames] == list(range(20))


async def test_concurrent_writers_reach_subscribers_in_order(
    notes: Stream, client: WebsocketCommunicator
) -> None:
    await join(client, "notes", "g")
    await asyncio.gather(*(notes.set("g", f"i{n}", {"n": n}) for n in range(30)))
    frames = [await client.receive_json_from(timeout=5) for _ in range(30)]
    assert sorted(f["id"] for f in frames) == sorted(f"i{n}" for n in range(30))
    stamps = [f["timestamp"] for f in frames]
    assert stamps == sorted(stamps), "a group's frames arrive in commit order"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("this is not json", "invalid_json"),
        ('{"type": "subscribe", "data": {}}', "unknown_type"),
        ('{"type": "join", "data": {"groupId": "g"}}', "invalid_frame"),
        ('{"type": "join", "data": {"streamName": "nope", "groupId": "g"}}', "unknown_stream"),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_usable(
    notes: Stream, client: WebsocketCommunicator, frame: str, code: str
) -> None:
    await client.send_to(text_data=frame)
    error = await client.receive_json_from(timeout=5)
    assert error["type"] == "stream"
    assert error["event"]["type"] == "error"
    assert error["event"]["data"]["code"] == code
    assert error["event"]["data"]["message"]
    assert error["id"] is None
    await join(client, "notes", "g")
    await notes.set("g", "a", {})
    assert (await client.receive_json_from(timeout=5))["event"]["type"] == "create"


async def test_limits_give_clear_errors(notes: Stream, settings: Any) -> None:
    settings.STREAMS_MAX_FRAME_BYTES = 300
    settings.STREAMS_MAX_SUBSCRIPTIONS = 2
    comm = await connect()
    await comm.send_to(text_data="x" * 300)  # at the limit: a bad frame, not a closed socket
    assert (await comm.receive_json_from(timeout=5))["event"]["data"]["code"] == "invalid_json"
    await join(comm, "notes", "g1")
    await join(comm, "notes", "g2")
    await comm.send_json_to(join_frame("notes", "g3"))
    error = await comm.receive_json_from(timeout=5)
    assert error["event"]["data"]["code"] == "too_many_subscriptions"
    await comm.disconnect()


async def test_offered_subprotocol_is_echoed() -> None:
    comm = WebsocketCommunicator(application, "/", subprotocols=["Authorization", "tok"])
    connected, subprotocol = await comm.connect()
    assert connected
    assert subprotocol == "Authorization"
    await comm.disconnect()


async def test_streams_path_serves_the_same_socket(notes: Stream) -> None:
    comm = await connect("/streams/")
    await join(comm, "notes", "g")
    await comm.disconnect()


# --- hooks ----------------------------------------------------------------------------------


class Recorder:
    """Hooks that record their calls; refuse groups named ``private``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Subscription, Any, Any]] = []

    async def on_join(self, subscription: Subscription, ctx: Any, auth: Any) -> dict[str, bool]:
        self.calls.append(("join", subscription, auth, ctx.user))
        return {"unauthorized": subscription.group_id == "private"}

    def on_leave(self, subscription: Subscription, ctx: Any, auth: Any) -> None:
        # A plain function: runs in a thread with synchronous streams.
        ctx.streams.notes.set("leaves", str(uuid.uuid4()), {"group": subscription.group_id})
        self.calls.append(("leave", subscription, auth, ctx.user))


@pytest.fixture
def recorder(define_stream: Callable[..., StreamConfig], notes: Stream) -> Recorder:
    hooks = Recorder()
    define_stream("watched", on_join=hooks.on_join, on_leave=hooks.on_leave)
    return hooks


async def test_refused_join_gets_unauthorized_and_no_frames(
    recorder: Recorder, client: WebsocketCommunicator
) -> None:
    await client.send_json_to(join_frame("watched", "private"))
    frame = await client.receive_json_from(timeout=5)
    assert frame["event"] == {"type": "unauthorized"}
    assert frame["groupId"] == "private"
    watched = Stream(registry_config("watched"))
    await watched.set("private", "a", {"secret": True})
    assert await client.receive_nothing(timeout=0.3)
    await join(client, "watched", "public")  # the socket stays open and usable


def registry_config(name: str) -> StreamConfig:
    from streams.definitions.stream_registry import registry

    return registry.get(name)


async def test_on_join_that_raises_refuses_the_join(
    define_stream: Callable[..., StreamConfig], client: WebsocketCommunicator
) -> None:
    async def broken(subscription: Subscription, ctx: Any, auth: Any) -> None:
        raise RuntimeError("boom")

    define_stream("fragile", on_join=broken)
    await client.send_json_to(join_frame("fragile", "g"))
    assert (await client.receive_json_from(timeout=5))["event"]["type"] == "unauthorized"


async def test_on_leave_runs_for_leave_and_for_every_subscription_left_at_disconnect(
    recorder: Recorder, notes: Stream
) -> None:
    comm = await connect()
    await join(comm, "watched", "g1")
    await join(comm, "watched", "g1", "item")
    await join(comm, "watched", "g2")
    await comm.send_json_to(join_frame("watched", "g2", kind="leave"))
    await processed(comm)
    await comm.disconnect()
    left = sorted((s.group_id, s.id or "") for kind, s, _, _ in recorder.calls if kind == "leave")
    assert left == [("g1", ""), ("g1", "item"), ("g2", "")]
    stored = sorted(item["group"] for item in await notes.list("leaves"))
    assert stored == ["g1", "g1", "g2"], "a sync on_leave can use the sync stream API"


async def test_a_frame_over_the_limit_closes_the_socket_with_1009(
    recorder: Recorder, settings: Any
) -> None:
    settings.STREAMS_MAX_FRAME_BYTES = 300
    comm = await connect()
    await join(comm, "watched", "g")
    await comm.send_to(text_data="x" * 301)
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 1009}
    assert [kind for kind, *_ in recorder.calls] == ["join", "leave"]


async def test_hooks_get_the_auth_context_and_the_session_user(
    recorder: Recorder, settings: Any, django_user_model: Any
) -> None:
    settings.STREAMS_AUTHENTICATE = "tests.test_consumer.allow_with_role"
    from asgiref.sync import sync_to_async
    from django.test import Client

    def login_cookie() -> str:
        user = django_user_model.objects.create_user("ann", password="pw")
        browser = Client()
        browser.force_login(user)
        return browser.cookies["sessionid"].value

    cookie = await sync_to_async(login_cookie)()
    comm = await connect(headers=[(b"cookie", f"sessionid={cookie}".encode())])
    await join(comm, "watched", "g")
    await comm.disconnect()
    (_, _, auth, user), *_ = recorder.calls
    assert auth == {"role": "admin", "path": "/"}
    assert user.username == "ann"


async def allow_with_role(request: Any, ctx: Any) -> dict[str, Any]:
    return {"unauthorized": False, "context": {"role": "admin", "path": request.path}}


def refuse_all(request: Any, ctx: Any) -> dict[str, Any]:
    return {"unauthorized": True}


def explode(request: Any, ctx: Any) -> dict[str, Any]:
    raise RuntimeError("auth backend down")


def returns_nothing(request: Any, ctx: Any) -> None:
    return None


@pytest.mark.parametrize("hook", ["refuse_all", "explode", "returns_nothing"])
async def test_refused_handshake_closes_before_accept(settings: Any, hook: str) -> None:
    settings.STREAMS_AUTHENTICATE = f"tests.test_consumer.{hook}"
    comm = WebsocketCommunicator(application, "/")
    connected, _ = await comm.connect()
    assert not connected


def sends_raising(error: BaseException) -> Any:
    """The application under a server whose ``websocket.send`` raises ``error``."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        async def failing(message: Any) -> None:
            if message["type"] == "websocket.send":
                raise error
            await send(message)

        await application(scope, receive, failing)

    return app


async def test_a_send_failing_unexpectedly_is_logged_once_and_closes_the_socket(
    notes: Stream, caplog: pytest.LogCaptureFixture
) -> None:
    """Not a socket that went away (ASGI servers raise an OSError for that one): a server
    the consumer cannot drive, which must not lose frames in silence."""

    class ServerBug(Exception):
        pass

    async def joined(error: BaseException) -> WebsocketCommunicator:
        comm = WebsocketCommunicator(sends_raising(error), "/")
        assert (await comm.connect())[0]
        await comm.send_json_to(join_frame("notes", "g"))
        return comm

    closes = []
    for _ in range(2):
        comm = await joined(ServerBug("cannot send"))
        closes.append(await comm.receive_output(timeout=5))
        await comm.disconnect()
    assert closes == [{"type": "websocket.close", "code": 1011}] * 2
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.message.split(":")[0] for r in errors] == [
        "a stream socket's send raised ServerBug"
    ], "logged once, not once per socket"

    gone = await joined(ConnectionResetError("the client went away"))
    assert await gone.receive_nothing(0.3), "nothing more is sent to it, not even a close"
    await gone.disconnect()
    assert len([r for r in caplog.records if r.levelname == "ERROR"]) == 1


async def test_an_idle_joined_socket_keeps_no_answer_state(
    notes: Stream, client: WebsocketCommunicator
) -> None:
    # Between answers, a socket keeps its subscriptions only: no holds, locks, replays or
    # resyncs (thousands of idle sockets each kept empty dicts of them).
    await notes.set("g", "a", {"n": 1})
    await published()  # its create, on Redis, must not reach the hub once the socket joined
    await join(client, "notes", "g")
    await join(client, "notes", "g", "a")
    await join(client, "notes", "g")  # a re-join, answered again
    gc.collect()
    (consumer,) = [
        o for o in gc.get_objects() if isinstance(o, StreamConsumer) and not o.out.closed
    ]
    assert len(consumer.subscriptions) == 2
    assert consumer.holds is None
    assert consumer.answering is None
    assert consumer.replayed is None
    assert consumer.resyncs is None
    assert "url_route" not in consumer.scope  # the server's scope, not a router's copy
    # A change still reaches it, and a replay's bookkeeping comes and goes.
    await notes.set("g", "a", {"n": 2})
    frame = await client.receive_json_from(timeout=15)
    assert frame["event"]["type"] == "update"
    await client.send_json_to(
        {
            **join_frame("notes", "g"),
            "data": {**join_frame("notes", "g")["data"], "sinceVersion": 1},
        }
    )
    replayed = [await client.receive_json_from(timeout=15) for _ in range(2)]
    assert [f["event"]["type"] for f in replayed] == ["update", "replayed"], replayed
    assert consumer.holds is None and consumer.answering is None
