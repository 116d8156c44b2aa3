"""The one road from a committed change to every subscriber: the Stream API's batches, custom
events and items saved or deleted by plain ORM code, all through ``stream_changed`` and one
commit hook per batch, each frame the one its group's replay log keeps."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection, transaction

from motia_site.asgi import application
from streams import StreamConfig
from streams.models import StreamGroup, StreamItem, StreamLogEntry
from streams.publishing.events import StreamEvent
from streams.signals import stream_changed, stream_event
from streams.storage.changes import Change
from streams.storage.store import Stream, SyncStream, apply_changes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def notes(define_stream: Callable[..., StreamConfig]) -> StreamConfig:
    return define_stream("notes")


@pytest.fixture
async def subscriber() -> AsyncIterator[WebsocketCommunicator]:
    """A socket joined to notes/live (its ``sync`` read)."""
    comm = WebsocketCommunicator(application, "/")
    connected, _ = await comm.connect()
    assert connected
    join = {"streamName": "notes", "groupId": "live", "subscriptionId": "s1"}
    await comm.send_json_to({"type": "join", "data": join})
    sync = await comm.receive_json_from(timeout=5)
    assert sync["event"]["type"] == "sync"
    yield comm
    await comm.disconnect()


def logged(version: int) -> dict[str, Any]:
    """The frame notes/live's replay log keeps for ``version``, decoded."""
    entry = StreamLogEntry.objects.get(stream_name="notes", group_id="live", version=version)
    frame: dict[str, Any] = json.loads(entry.frame)
    return frame


async def test_plain_orm_saves_and_deletes_reach_subscribers(
    notes: StreamConfig, subscriber: WebsocketCommunicator
) -> None:
    await Stream(notes).set("live", "a", {"text": "from the Stream API"})
    first = await subscriber.receive_json_from(timeout=5)
    assert first["event"] == {"type": "create", "data": {"id": "a", "text": "from the Stream API"}}

    def save_and_create() -> StreamItem:
        item = StreamItem.objects.select_related("group").get(item_id="a")
        item.data = {"id": "a", "text": "saved by the ORM"}
        item.save()
        group = StreamGroup.objects.get(stream_name="notes", group_id="live")
        return StreamItem.objects.create(
            group=group, item_id="b", data={"id": "b", "text": "new"}, timestamp=0, version=0
        )

    created = await sync_to_async(save_and_create)()
    update = await subscriber.receive_json_from(timeout=5)
    assert (update["id"], update["event"]) == (
        "a",
        {"type": "update", "data": {"id": "a", "text": "saved by the ORM"}},
    )
    # Stamped as a change of its group: clients keep it (they drop older timestamps).
    assert update["version"] == first["version"] + 1
    assert update["timestamp"] > first["timestamp"]
    create = await subscriber.receive_json_from(timeout=5)
    assert (create["id"], create["event"]["type"]) == ("b", "create")
    assert create["version"] == update["version"] + 1
    assert (created.version, created.timestamp) == (create["version"], create["timestamp"])

    await sync_to_async(created.delete)()
    delete = await subscriber.receive_json_from(timeout=5)
    assert (delete["id"], delete["event"]) == (
        "b",
        {"type": "delete", "data": {"id": "b", "text": "new"}},
    )
    assert delete["version"] == create["version"] + 1

    # Each frame is the one the replay log keeps: a client that replays sees the same.
    for frame in (first, update, create, delete):
        assert await sync_to_async(logged)(frame["version"]) == frame
    row = await StreamItem.objects.aget(item_id="a")
    assert (row.version, row.timestamp) == (update["version"], update["timestamp"])


async def test_deleting_a_group_through_the_orm_deletes_each_item_in_view(
    notes: StreamConfig, subscriber: WebsocketCommunicator
) -> None:
    stream = Stream(notes)
    for item_id in ("a", "b"):
        await stream.set("live", item_id, {"n": item_id})
        await subscriber.receive_json_from(timeout=5)

    def delete_group() -> None:
        StreamGroup.objects.filter(stream_name="notes", group_id="live").delete()

    await sync_to_async(delete_group)()
    deletes = [await subscriber.receive_json_from(timeout=5) for _ in range(2)]
    assert sorted((d["id"], d["event"]["type"]) for d in deletes) == [
        ("a", "delete"),
        ("b", "delete"),
    ]
    # The group made again goes on after the versions its deletion took.
    await stream.set("live", "c", {"n": "c"})
    again = await subscriber.receive_json_from(timeout=5)
    assert again["version"] == max(d["version"] for d in deletes) + 1


async def test_a_rolled_back_write_reaches_no_subscriber(
    notes: StreamConfig, subscriber: WebsocketCommunicator
) -> None:
    def roll_back() -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            SyncStream(notes).set("live", "gone", {"text": "never committed"})
            SyncStream(notes).send({"groupId": "live"}, {"type": "gone"})
            item = StreamItem.objects.get(item_id="gone")
            item.data = {"id": "gone", "text": "saved by the ORM, never committed"}
            item.save()
            raise RuntimeError("roll back")

    await sync_to_async(roll_back)()
    await Stream(notes).set("live", "kept", {"text": "committed"})
    frame = await subscriber.receive_json_from(timeout=5)
    assert (frame["id"], frame["event"]["type"], frame["version"]) == ("kept", "create", 1)
    assert await subscriber.receive_nothing(timeout=0.3)
    assert await StreamLogEntry.objects.filter(group_id="live").acount() == 1


@pytest.fixture
def batches() -> Iterator[list[tuple[bool, list[StreamEvent]]]]:
    """Every batch ``stream_changed`` announces, from any thread, with whether it came inside
    the batch's transaction."""
    seen: list[tuple[bool, list[StreamEvent]]] = []

    def receive(sender: Any, events: list[StreamEvent], **_: Any) -> None:
        seen.append((connection.in_atomic_block, list(events)))

    stream_changed.connect(receive, dispatch_uid="tests.batches")
    yield seen
    stream_changed.disconnect(dispatch_uid="tests.batches")


async def test_a_receiver_of_stream_changed_sees_every_change_of_a_batch_in_order(
    notes: StreamConfig,
    subscriber: WebsocketCommunicator,
    batches: list[tuple[bool, list[StreamEvent]]],
) -> None:
    stream = Stream(notes)

    async def change(n: int) -> None:
        if n % 10 == 9:
            await stream.send({"groupId": "live"}, {"type": "tick", "data": n})
        else:
            await stream.update("live", "c", [{"type": "increment", "path": "n"}])

    await asyncio.gather(*(change(n) for n in range(40)))
    mine = [(inside, events) for inside, events in batches if events[0].group_id == "live"]
    assert all(inside for inside, _ in mine), "announced before the commit"
    announced = [event for _, events in mine for event in events]
    assert [e.version for e in announced] == list(range(1, 41)), "every change, in order"
    assert len(mine) < 40, "changes made meanwhile share a batch"
    assert [e.type for e in announced].count("event") == 4

    # Subscribers get the same events, in the same order, with the same frames.
    frames = [await subscriber.receive_json_from(timeout=5) for _ in range(40)]
    assert [json.loads(e.frame) for e in announced] == frames


async def test_a_failing_receiver_keeps_no_event_of_its_batch_from_subscribers(
    notes: StreamConfig, subscriber: WebsocketCommunicator, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse_first(sender: Any, event: StreamEvent, **_: Any) -> None:
        if event.version == 1:
            raise RuntimeError("a stream_event receiver failed")

    one_batch = [Change("send", "notes", "live", None, {"type": t, "data": None}) for t in "ab"]
    stream_event.connect(refuse_first, dispatch_uid="tests.refuse_first")
    try:
        await sync_to_async(apply_changes)(one_batch)
    finally:
        stream_event.disconnect(dispatch_uid="tests.refuse_first")
    frames = [await subscriber.receive_json_from(timeout=5) for _ in range(2)]
    assert [f["event"]["event"]["type"] for f in frames] == ["a", "b"]
    assert "a stream_event receiver failed" in caplog.text


def test_stream_event_reaches_the_receivers_connected_when_it_is_sent(
    notes: StreamConfig,
) -> None:
    """Its receivers are cached: one connected after events went out hears the next ones,
    and one disconnected hears no more."""
    heard: list[tuple[str, str | None]] = []

    def first(sender: Any, event: StreamEvent, **_: Any) -> None:
        heard.append(("first", event.item_id))

    def second(sender: Any, event: StreamEvent, **_: Any) -> None:
        heard.append(("second", event.item_id))

    SyncStream(notes).set("live", "a", {"n": 1})
    stream_event.connect(first, dispatch_uid="tests.first")
    try:
        SyncStream(notes).set("live", "b", {"n": 1})
        stream_event.connect(second, dispatch_uid="tests.second")
        SyncStream(notes).set("live", "c", {"n": 1})
        stream_event.disconnect(dispatch_uid="tests.first")
        SyncStream(notes).set("live", "d", {"n": 1})
    finally:
        stream_event.disconnect(dispatch_uid="tests.first")
        stream_event.disconnect(dispatch_uid="tests.second")
    SyncStream(notes).set("live", "e", {"n": 1})
    assert heard == [("first", "b"), ("first", "c"), ("second", "c"), ("second", "d")]
