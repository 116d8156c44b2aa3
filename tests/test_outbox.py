"""The outbox of a slow reader: order, bounds, and which pending frames a newer one replaces."""

from typing import Any

import orjson

from streams.sockets import protocol
from streams.sockets.outbox import Outbox, event_type

ITEM = ("notes", "g", "a")


def frame(kind: str, item_id: str | None = "a", data: Any = None) -> dict[str, Any]:
    event = {"type": kind, "event": data} if kind == "event" else {"type": kind, "data": data}
    text = protocol.stream_frame("notes", "g", item_id, 1, event)
    return {"type": "websocket.send", "text": text}


def drain(outbox: Outbox) -> list[tuple[str, Any]]:
    sent = []
    while (message := outbox.pop()) is not None:
        event = orjson.loads(message["text"])["event"]
        sent.append((event["type"], event.get("data", event.get("event"))))
    return sent


def test_event_type_reads_the_frame_header_not_the_data() -> None:
    tricky = {"id": 'x","event":{"type":"delete"', "note": ',"event":{"type":"sync"'}
    assert event_type(frame("update", 'a",', tricky)["text"]) == "update"
    assert event_type(protocol.error_frame("bad", "no", 1)) == "error"


def test_updates_of_an_item_coalesce_and_the_newest_goes_last() -> None:
    outbox = Outbox(max_frames=100, max_bytes=10**6)
    outbox.push(frame("update", data=1), ITEM)
    outbox.push(frame("update", "b", data="b"), ("notes", "g", "b"))
    outbox.push(frame("update", data=2), ITEM)
    outbox.push(frame("update", data=3), ITEM)
    assert len(outbox) == 2
    assert drain(outbox) == [("update", "b"), ("update", 3)]
    assert outbox.bytes == 0


def test_creates_deletes_syncs_and_custom_events_are_kept() -> None:
    outbox = Outbox(max_frames=100, max_bytes=10**6)
    outbox.push(frame("create", data=0), ITEM)
    outbox.push(frame("update", data=1), ITEM)
    outbox.push(frame("sync", None, data=[1]))
    outbox.push(frame("event", data="ping"), ITEM)
    outbox.push(frame("update", data=2), ITEM)
    outbox.push(frame("delete", data=2), ITEM)
    outbox.push(frame("create", data=5), ITEM)
    outbox.push(frame("update", data=6), ITEM)
    assert drain(outbox) == [
        ("create", 0),
        ("sync", [1]),
        ("event", "ping"),
        ("delete", 2),  # replaced the update of 2, which had replaced the update of 1
        ("create", 5),
        ("update", 6),
    ]


def test_bounds_by_frames_and_by_bytes() -> None:
    by_frames = Outbox(max_frames=2, max_bytes=10**6)
    assert by_frames.push(frame("create", "a"), ("notes", "g", "a"))
    assert by_frames.push(frame("update", "b"), ("notes", "g", "b"))
    assert not by_frames.push(frame("create", "c"), ("notes", "g", "c"))
    assert by_frames.push(frame("update", "b"), ("notes", "g", "b")), "a replacement adds none"
    assert len(by_frames) == 2

    big = frame("create", data="x" * 1000)
    by_bytes = Outbox(max_frames=100, max_bytes=1500)
    assert by_bytes.push(big, ITEM)
    assert not by_bytes.push(frame("create", "b", data="x" * 1000), ("notes", "g", "b"))
    assert by_bytes.bytes == len(big["text"])
    alone = Outbox(max_frames=100, max_bytes=10)
    assert alone.push(big, ITEM), "one frame is always taken, however large"
