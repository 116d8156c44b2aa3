"""Recovery without a full re-sync: a re-join with ``sinceVersion`` gets the frames it missed.

First over Channels' WebsocketCommunicator (the consumer's answer, frame by frame), then end to
end: our Python client on one real server, its connection lost while 100 changes and 10
custom events are made through another server on the same database, gets exactly those, in
order and without a ``sync``, when its server is back; and a ``sync`` when more happened than
the log holds. The servers load ``tests.replay_app`` (a small stream and a step to change it)
through ``tests.replay_settings``.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from channels.testing import WebsocketCommunicator

from motia_site.asgi import application
from streams import StreamConfig
from streams.client.stream_client import GroupSubscription, StreamClient
from streams.sockets import snapshots as snapshot_module
from streams.sockets.answers import join_answer
from streams.storage.store import Stream, SyncStream
from tests.helpers.processes import ServerProcess, Start, TestDatabase
from tests.helpers.wire import communicator, join_message

WAIT = 10.0


# --- the consumer ---------------------------------------------------------------------------


def join_frame(since: int | None = None, item: str | None = None) -> dict[str, Any]:
    """A join of ``notes``/``g`` (or an item), always the same subscription."""
    extra = None if since is None else {"sinceVersion": since}
    return join_message("notes", "g", item, subscription="s", extra=extra)


def kinds(frames: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(frame["version"], frame["event"]["type"]) for frame in frames]


@pytest.fixture
def notes(define_stream: Callable[..., StreamConfig]) -> Stream:
    return Stream(define_stream("notes"))


@pytest.fixture
async def socket() -> AsyncIterator[WebsocketCommunicator]:
    async with communicator() as comm:
        yield comm


async def receive(comm: WebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    return [await comm.receive_json_from(timeout=5) for _ in range(count)]


@pytest.mark.django_db(transaction=True)
async def test_a_rejoin_gets_the_missed_frames_then_replayed(
    notes: Stream, socket: WebsocketCommunicator
) -> None:
    await notes.set("g", "a", {"n": 0})
    await socket.send_json_to(join_frame())
    (sync,) = await receive(socket, 1)
    assert (sync["version"], sync["event"]["type"]) == (1, "sync")
    for n in range(1, 4):  # what a disconnected client misses
        await notes.update("g", "a", [{"type": "set", "path": "n", "value": n}])
        await notes.send({"groupId": "g"}, {"type": "ping", "data": n})
    await notes.delete("g", "a")

    again = WebsocketCommunicator(application, "/")
    assert (await again.connect())[0]
    await again.send_json_to(join_frame(since=1))
    frames = await receive(again, 8)
    assert kinds(frames) == [
        (2, "update"),
        (3, "event"),
        (4, "update"),
        (5, "event"),
        (6, "update"),
        (7, "event"),
        (8, "delete"),
        (8, "replayed"),
    ]
    assert frames[1]["event"] == {"type": "event", "event": {"type": "ping", "data": 1}}
    assert frames[-1]["id"] is None and frames[-1]["groupId"] == "g"
    assert await again.receive_nothing(0.2)
    await again.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_item_rejoin_gets_its_item_and_then_live_frames(
    notes: Stream, socket: WebsocketCommunicator
) -> None:
    await notes.set("g", "a", {"n": 0})
    await notes.set("g", "b", {"n": 0})
    await notes.set("g", "a", {"n": 1})
    await socket.send_json_to(join_frame(since=1, item="a"))
    frames = await receive(socket, 2)
    assert kinds(frames) == [(3, "update"), (3, "replayed")]
    assert frames[1]["id"] == "a"
    await notes.set("g", "b", {"n": 2})  # another item: not this subscription's
    await notes.set("g", "a", {"n": 2})
    (live,) = await receive(socket, 1)
    assert kinds([live]) == [(5, "update")]


@pytest.mark.django_db(transaction=True)
async def test_a_rejoin_beyond_the_log_or_from_an_unknown_version_gets_a_sync(
    notes: Stream, socket: WebsocketCommunicator, settings: Any
) -> None:
    settings.STREAMS_REPLAY_LOG_SIZE = 4
    for n in range(10):
        await notes.set("g", "a", {"n": n})
    for since in (2, 11):
        await socket.send_json_to(join_frame(since=since))
        answer = (await receive(socket, 1))[0]
        while answer["event"]["type"] == "update":  # the last change, on its way meanwhile
            answer = (await receive(socket, 1))[0]
        assert (answer["version"], answer["event"]["type"]) == (10, "sync")
        assert answer["event"]["data"] == [{"id": "a", "n": 9}]


@pytest.mark.django_db(transaction=True)
async def test_changes_committed_while_the_log_is_read_come_once(
    notes: Stream, socket: WebsocketCommunicator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change committed after the join subscribed but before the log is read is in the
    replay, and not sent again; one committed after the read follows the replay."""
    sync_notes = SyncStream(notes.config)
    await notes.set("g", "a", {"n": 0})

    def racing_read(subscription: Any, since: int | None, paged: bool) -> Any:
        sync_notes.send({"groupId": "g"}, {"type": "before-read"})
        answer = join_answer(subscription, since, paged)
        sync_notes.send({"groupId": "g"}, {"type": "after-read"})
        return answer

    monkeypatch.setattr(snapshot_module, "join_answer", racing_read)
    await socket.send_json_to(join_frame(since=1))
    frames = await receive(socket, 3)
    assert kinds(frames) == [(2, "event"), (2, "replayed"), (3, "event")]
    assert [f["event"].get("event", {}).get("type") for f in frames] == [
        "before-read",
        None,
        "after-read",
    ]
    assert await socket.receive_nothing(0.3), "the change read with the log is not sent again"


# --- end to end: our Python client, two servers ---------------------------------------------


SETTINGS = {"DJANGO_SETTINGS_MODULE": "tests.replay_settings"}


def replay_servers(
    database: TestDatabase, start: Start, log_size: int
) -> tuple[ServerProcess, ServerProcess]:
    """Servers A and B on the test's database."""
    env = {**SETTINGS, "STREAMS_REPLAY_LOG_SIZE": str(log_size)}
    return (
        start(ServerProcess(database, env, name="server-A")),
        start(ServerProcess(database, env, name="server-B")),
    )


class Recorder:
    """Every listener call of a group subscription, in order: ``(kind, what)``."""

    def __init__(self, subscription: GroupSubscription) -> None:
        self.calls: list[tuple[str, Any]] = []
        for kind in ("sync", "create", "update", "delete", "event"):
            subscription.on(kind, lambda data, kind=kind: self.calls.append((kind, data)))


async def make_changes(http: httpx.AsyncClient, group: str, changes: int, events: int) -> list:
    """``changes`` changes of a few items and ``events`` custom events among them, one request
    each, in order; what a subscriber should see of each, in the same order."""
    expected: list[tuple[str, Any]] = []
    every = changes // events if events else changes + 1
    for n in range(changes):
        item = f"i{n % 7}"
        body = {"groupId": group, "id": item, "kind": "set", "data": {"n": n}}
        response = await http.post("/replay-probe", json=body)
        assert response.status_code == 200, response.text
        expected.append((response.json()["event"], {"id": item, "n": n}))
        if (n + 1) % every == 0 and len([k for k, _ in expected if k == "event"]) < events:
            body = {"groupId": group, "kind": "send", "data": {"n": n}}
            response = await http.post("/replay-probe", json=body)
            assert response.status_code == 200, response.text
            expected.append(("event", {"type": "probe", "data": {"n": n}}))
    return expected


async def miss_and_rejoin(
    database: TestDatabase, start: Start, log_size: int, changes: int, events: int
) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]], list[dict[str, Any]]]:
    """Our Python client follows the group on server A; A stops, and ``changes`` changes and
    ``events`` custom events are made through server B; A starts again and the client
    re-joins. Returns the listener calls since A stopped, what was made meanwhile, and the
    client's final state."""
    server_a, server_b = replay_servers(database, start, log_size)
    async with (
        StreamClient(server_a.ws_url, min_backoff=0.1, max_backoff=0.5) as client,
        server_a.http_client(WAIT) as http_a,
        server_b.http_client(WAIT) as http_b,
    ):
        group = client.group("probe", "g")
        recorder = Recorder(group)
        # Live through A (without Redis, B's changes reach no subscriber of A's).
        # Items i0 to i4: those made while away create i5 and i6, and update the others.
        await make_changes(http_a, "g", changes=5, events=0)
        await group.wait_for(lambda state: len(state) == 5, WAIT)
        seen_before = len(recorder.calls)

        await asyncio.to_thread(server_a.stop)  # the client loses its server
        missed = await make_changes(http_b, "g", changes, events)
        final = {item["id"]: item for kind, item in missed if kind != "event"}
        await asyncio.to_thread(server_a.restart)

        await group.wait_for(lambda state: {i["id"]: i for i in state} == final, 30)
        await asyncio.sleep(0.3)  # what follows the last change (an event), and no more
        return recorder.calls[seen_before:], missed, group.state


@pytest.mark.timeout(120)
async def test_a_client_disconnected_gets_every_missed_change_and_event_in_order(
    database: TestDatabase, start: Start
) -> None:
    calls, missed, _ = await miss_and_rejoin(database, start, 1000, changes=100, events=10)
    assert len(missed) == 110
    assert {kind for kind, _ in missed} == {"create", "update", "event"}
    assert calls == missed, "exactly the missed frames, in order, and no sync"


@pytest.mark.timeout(120)
async def test_a_client_that_missed_more_than_the_log_holds_gets_a_sync(
    database: TestDatabase, start: Start
) -> None:
    calls, _, state = await miss_and_rejoin(database, start, 50, changes=100, events=10)
    assert [kind for kind, _ in calls] == ["sync"], calls[:3]
    assert calls[0][1] == state and len(state) == 7
