"""The Stream API against the real database (SQLite, or PostgreSQL in the services pass)."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection, transaction
from pydantic import BaseModel

from streams import StreamConfig, StreamValidationError, UpdateOpError
from streams.models import StreamGroup
from streams.publishing.events import StreamEvent, now_ms
from streams.storage.store import Stream, Streams, SyncStream


class Counter(BaseModel):
    id: str
    value: int = 0


@pytest.fixture
def notes(define_stream: Callable[..., StreamConfig]) -> SyncStream:
    return SyncStream(define_stream("notes"))


@pytest.fixture
def counters(define_stream: Callable[..., StreamConfig]) -> SyncStream:
    return SyncStream(define_stream("counters", schema=Counter))


pytestmark = pytest.mark.django_db(transaction=True)


def test_set_get_and_the_returned_values(notes: SyncStream, events: list[StreamEvent]) -> None:
    created = notes.set("g", "a", {"text": "hi"})
    assert created == {"old_value": None, "new_value": {"id": "a", "text": "hi"}}
    updated = notes.set("g", "a", {"text": "bye"})
    assert updated == {
        "old_value": {"id": "a", "text": "hi"},
        "new_value": {"id": "a", "text": "bye"},
    }
    assert notes.get("g", "a") == {"id": "a", "text": "bye"}
    assert notes.get("g", "missing") is None
    assert notes.get("other", "a") is None
    assert [e.type for e in events] == ["create", "update"]
    assert events[1].data == {"id": "a", "text": "bye"}


def test_list_keeps_insertion_order_and_list_groups(notes: SyncStream) -> None:
    for item_id in ["c", "a", "b"]:
        notes.set("g1", item_id, {})
    notes.set("g2", "x", {})
    notes.set("g1", "c", {"changed": True})
    assert [item["id"] for item in notes.list("g1")] == ["c", "a", "b"]
    assert notes.list("nothing") == []
    assert notes.list_groups() == ["g1", "g2"]
    notes.delete("g2", "x")
    assert notes.list_groups() == ["g1"], "a group with no items is not listed"


def test_delete_returns_the_old_value_and_broadcasts_it(
    notes: SyncStream, events: list[StreamEvent]
) -> None:
    notes.set("g", "a", {"n": 1})
    assert notes.delete("g", "a") == {"old_value": {"id": "a", "n": 1}}
    assert notes.get("g", "a") is None
    assert notes.delete("g", "a") == {"old_value": None}
    assert notes.delete("no-group", "a") == {"old_value": None}
    assert [e.type for e in events] == ["create", "delete"], "deleting nothing sends nothing"
    assert events[1].data == {"id": "a", "n": 1}


def test_update_applies_ops_atomically(counters: SyncStream) -> None:
    result = counters.update("g", "c", [{"type": "increment", "path": "value", "by": 2}])
    assert result == {"old_value": None, "new_value": {"id": "c", "value": 2}}
    result = counters.update(
        "g", "c", [{"type": "decrement", "path": "value"}, {"type": "set", "path": "x", "value": 1}]
    )
    assert result["new_value"] == {"id": "c", "value": 1, "x": 1}, "extra fields are kept"


def test_update_takes_segment_lists_and_appends(
    notes: SyncStream, events: list[StreamEvent]
) -> None:
    notes.update("g", "a", [{"type": "append", "path": ["log", "events"], "value": {"n": 1}}])
    result = notes.update(
        "g",
        "a",
        [
            {"type": "append", "path": ["log", "events"], "value": {"n": 2}},
            {"type": "increment", "path": ["stats.views"]},
        ],
    )
    expected = {"id": "a", "log": {"events": [{"n": 1}, {"n": 2}]}, "stats.views": 1}
    assert result["new_value"] == expected
    assert notes.get("g", "a") == expected
    with pytest.raises(UpdateOpError, match="not a list"):
        notes.update("g", "a", [{"type": "append", "path": ["stats.views"], "value": 1}])
    assert notes.get("g", "a") == expected
    assert [e.type for e in events] == ["create", "update"]


async def test_async_updates_take_segment_lists_and_append(
    define_stream: Callable[..., StreamConfig],
) -> None:
    stream = Stream(define_stream("asynclog"))
    await stream.update("g", "a", [{"type": "append", "path": ["events"], "value": "x"}])
    result = await stream.update("g", "a", [{"type": "append", "path": "events", "value": "y"}])
    assert result["new_value"] == {"id": "a", "events": ["x", "y"]}
    with pytest.raises(UpdateOpError, match="not a list"):
        await stream.update("g", "a", [{"type": "append", "path": ["id"], "value": "z"}])
    assert await stream.get("g", "a") == {"id": "a", "events": ["x", "y"]}


def test_a_failing_op_changes_nothing(counters: SyncStream, events: list[StreamEvent]) -> None:
    counters.set("g", "c", {"value": 1, "label": "x"})
    with pytest.raises(UpdateOpError):
        counters.update(
            "g",
            "c",
            [{"type": "increment", "path": "value"}, {"type": "increment", "path": "label"}],
        )
    assert counters.get("g", "c") == {"id": "c", "value": 1, "label": "x"}
    assert len(events) == 1


def test_schema_violations_store_nothing(counters: SyncStream, events: list[StreamEvent]) -> None:
    with pytest.raises(StreamValidationError) as caught:
        counters.set("g", "c", {"value": "many"})
    assert caught.value.errors[0]["loc"] == ["value"]
    with pytest.raises(StreamValidationError):
        counters.update("g", "c", [{"type": "set", "path": "value", "value": [1]}])
    with pytest.raises(StreamValidationError, match="must equal the item id"):
        counters.set("g", "c", {"id": "other"})
    assert counters.get("g", "c") is None
    assert counters.list_groups() == []
    assert events == []


def test_json_schema_dicts_validate_too(define_stream: Callable[..., StreamConfig]) -> None:
    schema = {
        "type": "object",
        "properties": {"score": {"type": "number"}},
        "required": ["score"],
    }
    scores = SyncStream(define_stream("scores", schema=schema))
    assert scores.set("g", "a", {"score": 3})["new_value"] == {"id": "a", "score": 3}
    with pytest.raises(StreamValidationError) as caught:
        scores.set("g", "b", {"score": "high"})
    assert caught.value.errors[0]["loc"] == ["score"]


def test_oversized_items_and_bad_keys_are_refused(notes: SyncStream, settings: Any) -> None:
    settings.STREAMS_MAX_ITEM_BYTES = 100
    with pytest.raises(StreamValidationError, match="larger than 100 bytes"):
        notes.set("g", "a", {"text": "x" * 200})
    with pytest.raises(ValueError, match="group id"):
        notes.set("", "a", {})
    with pytest.raises(ValueError, match="item id"):
        notes.set("g", "", {})
    assert notes.list("g") == []


def test_nothing_is_broadcast_for_a_rolled_back_transaction(
    notes: SyncStream, events: list[StreamEvent]
) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        notes.set("g", "a", {"n": 1})
        raise RuntimeError("roll back")
    assert notes.get("g", "a") is None
    assert events == []
    with transaction.atomic():
        notes.set("g", "b", {"n": 1})
        assert events == [], "events wait for the commit"
    assert [e.item_id for e in events] == ["b"]


def test_send_broadcasts_a_custom_event_and_stores_nothing(
    notes: SyncStream, events: list[StreamEvent]
) -> None:
    notes.send({"groupId": "room"}, {"type": "custom", "data": {"message": "hi"}})
    notes.send({"groupId": "room", "id": "x"}, {"type": "ping"})
    assert [(e.type, e.item_id, e.data) for e in events] == [
        ("event", None, {"type": "custom", "data": {"message": "hi"}}),
        ("event", "x", {"type": "ping", "data": None}),
    ]
    assert notes.list("room") == []
    with pytest.raises(ValueError, match="'type'"):
        notes.send({"groupId": "room"}, {"data": 1})


def test_timestamps_and_versions_strictly_increase(
    notes: SyncStream, events: list[StreamEvent]
) -> None:
    for n in range(20):
        notes.set("g", "a", {"n": n})
    notes.delete("g", "a")
    notes.set("g", "a", {"n": "again"})
    stamps = [e.timestamp for e in events]
    versions = [e.version for e in events]
    assert stamps == sorted(set(stamps)), "strictly increasing, also across delete and re-create"
    assert versions == list(range(1, 23))


def test_timestamps_follow_the_clock_and_never_go_back(
    notes: SyncStream, events: list[StreamEvent]
) -> None:
    before = now_ms()
    notes.set("g", "a", {"n": 1})
    assert before <= events[-1].timestamp <= now_ms(), "a change is stamped with the wall clock"
    ahead = now_ms() + 10 * 24 * 3600 * 1000  # a clock that later goes back ten days
    StreamGroup.objects.filter(stream_name="notes", group_id="g").update(last_timestamp=ahead)
    notes.set("g", "a", {"n": 2})
    notes.send({"groupId": "g"}, {"type": "ping"})
    assert [e.timestamp for e in events[1:]] == [ahead + 1, ahead + 2]


def test_fifty_concurrent_increments_lose_nothing(counters: SyncStream) -> None:
    barrier = threading.Barrier(50)

    def increment(_: int) -> None:
        try:
            barrier.wait()
            counters.update("g", "hits", [{"type": "increment", "path": "value"}])
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(increment, range(50)))
    assert counters.get("g", "hits") == {"id": "hits", "value": 50}


async def test_async_api_and_streams_accessor(define_stream: Callable[..., StreamConfig]) -> None:
    define_stream("asyncnotes")
    streams = Streams()
    assert "asyncnotes" in streams
    stream = streams.asyncnotes
    assert isinstance(stream, Stream)
    assert streams["asyncnotes"].name == "asyncnotes"
    result = await stream.set("g", "a", {"x": 1})
    assert result["new_value"] == {"id": "a", "x": 1}
    await stream.update("g", "a", [{"type": "increment", "path": "x"}])
    assert await stream.get("g", "a") == {"id": "a", "x": 2}
    assert await stream.list("g") == [{"id": "a", "x": 2}]
    assert await stream.list_groups() == ["g"]
    assert await stream.delete("g", "a") == {"old_value": {"id": "a", "x": 2}}
    assert isinstance(Streams(sync=True).asyncnotes, SyncStream)
    with pytest.raises(LookupError, match="unknown stream 'nope'"):
        _ = streams.nope
