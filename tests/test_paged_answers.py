"""A join's answer in pages, over Channels' WebsocketCommunicator (docs/protocol.md: Large
groups).

Pages of a few KiB (``STREAMS_SYNC_PAGE_BYTES``) make a group of a few dozen items a large
one. A client that says it takes them (``syncPages``) gets the group in ``syncPage`` frames,
the changes made meanwhile, then ``synced``; one that does not gets one ``sync`` or, past
``STREAMS_MAX_SYNC_BYTES``, an ``error`` frame and no subscription. Our client's state
(:class:`~streams.client.state.GroupState`) fed the frames ends as the database is, changes
made between the pages (or more of them than may be held) included. A replay is read a page
at a time too.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator

from motia_site.asgi import application
from streams import StreamConfig
from streams.client.state import GroupState, StreamMessage
from streams.sockets import answers as answers_module
from streams.storage.store import Stream, SyncStream
from tests.helpers.wire import communicator, join_message

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = 4096
ITEM = "x" * 900  # five items a page
WAIT = 15.0  # seconds a frame may take on a loaded machine (the bound of a failure, not a measure)


@pytest.fixture
def notes(define_stream: Callable[..., StreamConfig], settings: Any) -> Stream:
    """The stream of these tests, with pages of five of its items."""
    settings.STREAMS_SYNC_PAGE_BYTES = PAGE
    return Stream(define_stream("notes"))


@pytest.fixture
async def socket() -> AsyncIterator[WebsocketCommunicator]:
    async with communicator() as comm:
        yield comm


async def fill(notes: Stream, count: int) -> list[dict[str, Any]]:
    for n in range(count):
        await notes.set("g", f"i{n:03}", {"n": n, "text": ITEM})
    return await notes.list("g")


def join(paged: bool, since: int | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"syncPages": True} if paged else {}
    if since is not None:
        extra["sinceVersion"] = since
    return join_message("notes", "g", subscription="s", extra=extra)


async def frames_until(comm: WebsocketCommunicator, last: str) -> list[dict[str, Any]]:
    """Every frame up to the first whose event is ``last``."""
    frames = [await comm.receive_json_from(timeout=WAIT)]
    while frames[-1]["event"]["type"] != last:
        frames.append(await comm.receive_json_from(timeout=WAIT))
    return frames


def kinds(frames: list[dict[str, Any]]) -> list[str]:
    return [frame["event"]["type"] for frame in frames]


def state_after(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The state our clients keep from these frames."""
    group = GroupState()
    for frame in frames:
        group.apply(StreamMessage.from_json(frame))
    return group.state


async def test_a_large_group_comes_in_pages_to_a_client_that_takes_them(
    notes: Stream, socket: WebsocketCommunicator
) -> None:
    items = await fill(notes, 23)
    await socket.send_json_to(join(paged=True))
    frames = await frames_until(socket, "synced")
    assert kinds(frames) == ["syncPage"] * 5 + ["synced"]
    assert [frame["event"]["page"] for frame in frames[:-1]] == [0, 1, 2, 3, 4]
    assert all(len(frame["event"]["data"]) <= 5 for frame in frames[:-1])
    assert [item for frame in frames[:-1] for item in frame["event"]["data"]] == items
    end = frames[-1]
    assert end["event"] == {"type": "synced", "pages": 5}
    assert (end["id"], end["version"]) == (None, 23)
    assert state_after(frames) == items
    assert await socket.receive_nothing(0.2)

    await notes.set("g", "late", {"n": -1})
    live = await socket.receive_json_from(timeout=WAIT)
    assert (live["event"]["type"], live["version"]) == ("create", 24)


async def test_a_client_that_does_not_take_pages_gets_one_sync_or_an_error(
    notes: Stream, socket: WebsocketCommunicator, settings: Any
) -> None:
    items = await fill(notes, 23)
    await socket.send_json_to(join(paged=False))
    (sync,) = await frames_until(socket, "sync")
    assert sync["event"]["data"] == items, "the whole group, in one frame"

    settings.STREAMS_MAX_SYNC_BYTES = 10_000
    other = WebsocketCommunicator(application, "/")
    assert (await other.connect())[0]
    await other.send_json_to(join(paged=False))
    error = await other.receive_json_from(timeout=WAIT)
    assert (error["streamName"], error["groupId"], error["id"]) == ("notes", "g", None)
    assert error["event"]["type"] == "error"
    assert error["event"]["data"] == {
        "code": "group_too_large",
        "message": "the group is larger than 10000 bytes: join it with a client that takes "
        "paged syncs ('syncPages')",
    }
    await notes.set("g", "late", {"n": -1})
    assert await other.receive_nothing(0.3), "not subscribed: no change reaches it"
    await other.disconnect()


@pytest.mark.parametrize("log_size", [1000, 0], ids=["from-the-log", "held-without-log"])
async def test_changes_between_the_pages_end_in_the_database_state(
    notes: Stream,
    socket: WebsocketCommunicator,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    log_size: int,
) -> None:
    """Each page is read at a later version: items created, updated, deleted (and made again)
    meanwhile, in pages read and still to read. The client's state at ``synced`` is the
    database's: the changes since the first page come from the replay log, or without one,
    from the frames held (once all up to the last page's version have come)."""
    settings.STREAMS_REPLAY_LOG_SIZE = log_size
    await fill(notes, 23)
    sync_notes = SyncStream(notes.config)
    changes: Iterator[Callable[[], object]] = iter(
        [
            lambda: sync_notes.set("g", "i001", {"n": 1, "text": "changed, in a page sent"}),
            lambda: sync_notes.delete("g", "i020"),  # in a page still to read
            lambda: sync_notes.set("g", "new", {"n": 100}),
            lambda: sync_notes.delete("g", "i002"),
            lambda: sync_notes.set("g", "i002", {"n": 2, "text": "made again"}),
            lambda: sync_notes.set("g", "i022", {"n": 22, "text": "changed, in a page to read"}),
        ]
    )
    read_page = answers_module.answer_part
    made = 0

    def racing_page(*args: Any) -> Any:
        nonlocal made
        for change in (next(changes, None), next(changes, None)):
            if change is not None:
                change()
                made += 1
        return read_page(*args)

    monkeypatch.setattr("streams.sockets.consumers.answer_part", racing_page)
    await socket.send_json_to(join(paged=True))
    frames = await frames_until(socket, "synced")
    assert made == 6
    assert "update" in kinds(frames) and "delete" in kinds(frames), kinds(frames)
    assert kinds(frames).index("synced") > kinds(frames).index("syncPage")
    assert state_after(frames) == await notes.list("g")
    assert frames[-1]["version"] == 23 + made, "the version of the last change, held and sent"


async def test_more_changes_than_may_be_held_come_from_the_log(
    notes: Stream, socket: WebsocketCommunicator, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """Held frames are bounded (half the outbox's): past it they are dropped, and the
    answer goes on from the replay log, which has every one of them."""
    settings.STREAMS_MAX_PENDING_FRAMES = 8  # at most 4 held
    await fill(notes, 23)
    sync_notes = SyncStream(notes.config)
    read_page = answers_module.answer_part
    made = 0

    def busy_page(*args: Any) -> Any:
        nonlocal made
        for _ in range(6):
            made += 1
            sync_notes.set("g", f"i{made % 30:03}", {"n": made})
        return read_page(*args)

    read_tail = answers_module.tail_part
    tails: list[int] = []

    def tail(subscription: Any, after: int, limit: int) -> Any:
        tails.append(after)
        return read_tail(subscription, after, limit)

    monkeypatch.setattr("streams.sockets.consumers.answer_part", busy_page)
    monkeypatch.setattr("streams.sockets.consumers.tail_part", tail)
    await socket.send_json_to(join(paged=True))
    frames = await frames_until(socket, "synced")
    assert tails and tails[0] == 23, "the changes since the first page, from the log"
    assert state_after(frames) == await notes.list("g")
    assert frames[-1]["version"] == 23 + made
    assert await socket.receive_nothing(0.2), "no change twice"


async def test_a_long_replay_comes_a_page_at_a_time_then_replayed(
    notes: Stream, socket: WebsocketCommunicator, monkeypatch: pytest.MonkeyPatch
) -> None:
    await notes.set("g", "a", {"n": 0})
    await socket.send_json_to(join(paged=True))
    await frames_until(socket, "sync")
    for n in range(1, 24):
        await notes.set("g", f"i{n:03}", {"n": n, "text": ITEM})
    reads: list[int] = []
    read_page = answers_module.answer_part

    def counted(subscription: Any, rest: Any, paged: bool) -> Any:
        reads.append(rest.after)
        return read_page(subscription, rest, paged)

    monkeypatch.setattr("streams.sockets.consumers.answer_part", counted)
    again = WebsocketCommunicator(application, "/")
    assert (await again.connect())[0]
    await again.send_json_to(join(paged=True, since=1))
    frames = await frames_until(again, "replayed")
    assert [(f["version"], f["event"]["type"]) for f in frames] == [
        *[(v, "create") for v in range(2, 25)],
        (24, "replayed"),
    ]
    assert len(reads) >= 4 and reads == sorted(reads), "read in pages, in order"
    await again.disconnect()


async def test_sync_pages_must_be_a_boolean(notes: Stream, socket: WebsocketCommunicator) -> None:
    frame = join_message("notes", "g", extra={"syncPages": "yes"})
    await socket.send_json_to(frame)
    error = await socket.receive_json_from(timeout=WAIT)
    assert error["event"]["data"] == {
        "code": "invalid_frame",
        "message": "'data.syncPages' must be true or false",
    }
    await asyncio.sleep(0)
