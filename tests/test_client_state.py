"""The client state rules of :mod:`streams.client.state`, without I/O.

Each rule is the one of Motia's published client (``@motiadev/stream-client``), so that our
Python client ends in the same states.
"""

from typing import Any

import pytest

from streams.client.state import (
    Change,
    GroupState,
    ItemState,
    RoomKey,
    StreamMessage,
    room_key,
    rooms_for,
)

A = {"id": "a", "description": "first"}
A2 = {"id": "a", "description": "first, edited"}
A3 = {"id": "a", "description": "first, edited again"}
B = {"id": "b", "description": "second"}


def frame(
    kind: str,
    timestamp: int,
    data: Any = None,
    *,
    item_id: str | None = None,
    event: Any = None,
    stream: str | None = "todo",
    group: str | None = "todos",
) -> StreamMessage:
    """A server frame as it comes off the wire, decoded."""
    payload: dict[str, Any] = {"type": kind}
    if kind == "event":
        payload["event"] = event
    elif kind != "unauthorized":
        payload["data"] = data
    return StreamMessage.from_json(
        {
            "type": "stream",
            "timestamp": timestamp,
            "streamName": stream,
            "groupId": group,
            "id": item_id,
            "event": payload,
        }
    )


def change(kind: str, timestamp: int, item: dict[str, Any]) -> StreamMessage:
    """A create, update or delete of ``item`` (frames of item changes carry the item's id)."""
    return frame(kind, timestamp, item, item_id=item["id"])


# --- decoding and routing -------------------------------------------------------------------


def test_decodes_a_stream_frame() -> None:
    message = change("update", 42, A)
    assert message == StreamMessage(
        kind="update", timestamp=42, stream_name="todo", group_id="todos", id="a", data=A
    )
    custom = frame("event", 7, event={"type": "custom", "data": {"x": 1}})
    assert (custom.kind, custom.id, custom.event) == (
        "event",
        None,
        {"type": "custom", "data": {"x": 1}},
    )


@pytest.mark.parametrize(
    "message",
    [
        [],
        {"type": "join", "data": {}},
        {"type": "stream", "timestamp": 1},
        {"type": "stream", "event": {"data": []}},
    ],
)
def test_rejects_what_is_not_a_stream_frame(message: Any) -> None:
    with pytest.raises(ValueError):
        StreamMessage.from_json(message)


def test_item_frames_go_to_the_item_and_its_group() -> None:
    for kind in ("create", "update", "delete"):
        assert rooms_for(change(kind, 1, A)) == [
            room_key("todo", "todos", "a"),
            room_key("todo", "todos"),
        ]
    custom = frame("event", 1, item_id="a", event={"type": "ping", "data": None})
    assert rooms_for(custom) == [room_key("todo", "todos", "a"), room_key("todo", "todos")]


def test_an_items_sync_goes_to_the_item_only() -> None:
    assert rooms_for(frame("sync", 1, A, item_id="a")) == [room_key("todo", "todos", "a")]


def test_group_frames_go_to_the_group_only() -> None:
    assert rooms_for(frame("sync", 1, [A])) == [room_key("todo", "todos")]
    custom = frame("event", 1, event={"type": "custom", "data": "hi"})
    assert rooms_for(custom) == [room_key("todo", "todos")]


def test_a_frame_without_stream_or_group_goes_nowhere() -> None:
    error = frame("error", 1, {"code": "invalid_json", "message": "x"}, stream=None, group=None)
    assert rooms_for(error) == []


# --- item subscriptions ---------------------------------------------------------------------


def test_item_starts_empty_and_follows_sync_update_delete() -> None:
    item = ItemState()
    assert item.state is None
    assert item.apply(frame("sync", 10, A, item_id="a")) == Change("sync", A, True)
    assert item.state == A
    assert item.apply(change("update", 11, A2)) == Change("update", A2, True)
    assert item.state == A2
    assert item.apply(change("delete", 12, A2)) == Change("delete", A2, True)
    assert item.state is None
    assert item.apply(change("create", 13, A3)) == Change("create", A3, True)
    assert item.state == A3


def test_item_drops_frames_not_newer_than_the_last() -> None:
    item = ItemState()
    item.apply(change("update", 20, A2))
    assert item.apply(change("update", 20, A3)) is None  # same millisecond: dropped
    assert item.apply(change("update", 19, A)) is None  # older: dropped
    assert item.apply(change("delete", 20, A2)) is None
    assert item.apply(frame("sync", 15, A, item_id="a")) is None  # a sync older than the last
    assert item.state == A2
    assert item.last_timestamp == 20
    assert item.apply(change("update", 21, A3)) is not None
    assert item.state == A3


def test_item_sync_of_an_empty_group_is_not_newer_than_the_start() -> None:
    """A group never written to has timestamp 0: the item's sync is dropped, state stays None
    (as in Motia's client, whose last timestamp also starts at 0)."""
    item = ItemState()
    assert item.apply(frame("sync", 0, None, item_id="a")) is None
    assert item.state is None


def test_item_custom_events_leave_the_state_and_take_the_timestamp() -> None:
    item = ItemState()
    item.apply(change("update", 5, A))
    event = {"type": "ping", "data": {"n": 1}}
    assert item.apply(frame("event", 6, item_id="a", event=event)) == Change("event", event, False)
    assert item.state == A
    assert item.apply(frame("event", 6, item_id="a", event=event)) is None
    assert item.apply(change("update", 6, A2)) is None  # Motia's rule: 6 was taken


def test_item_unauthorized_and_error_take_no_timestamp() -> None:
    item = ItemState()
    assert item.apply(frame("unauthorized", 50, item_id="a")) == Change("unauthorized", None, False)
    assert item.apply(frame("error", 60, {"code": "x", "message": "y"})) is None
    assert item.last_timestamp == 0
    assert item.apply(change("create", 40, A)) is not None


# --- group subscriptions --------------------------------------------------------------------


def test_group_starts_empty_and_sync_replaces_the_list() -> None:
    group = GroupState()
    assert group.state == []
    assert group.apply(frame("sync", 10, [A, B])) == Change("sync", [A, B], True)
    assert group.state == [A, B]
    group.apply(frame("sync", 11, [B]))
    assert group.state == [B]


def test_group_sync_of_an_empty_group_applies() -> None:
    group = GroupState()
    assert group.apply(frame("sync", 0, [])) == Change("sync", [], True)


def test_group_ignores_a_sync_older_than_the_last_timestamp() -> None:
    group = GroupState()
    group.apply(frame("sync", 10, [A]))
    group.apply(change("update", 12, A2))
    assert group.apply(frame("sync", 11, [A])) is None
    assert group.state == [A2]
    assert group.apply(frame("sync", 12, [A2, B])) is not None  # equal is not older
    assert group.state == [A2, B]


def test_group_create_appends_once() -> None:
    group = GroupState()
    group.apply(frame("sync", 10, [A]))
    assert group.apply(change("create", 11, B)) == Change("create", B, True)
    assert group.state == [A, B]
    assert group.apply(change("create", 12, B)) is None  # duplicate id: ignored
    assert group.apply(change("create", 13, {"id": "a", "description": "other"})) is None
    assert group.state == [A, B]


def test_group_create_takes_no_timestamp() -> None:
    """Motia's client does not record a create's timestamp: an older sync still applies."""
    group = GroupState()
    group.apply(frame("sync", 10, []))
    group.apply(change("create", 20, A))
    assert group.last_timestamp == 10
    assert group.apply(frame("sync", 15, [])) is not None
    assert group.state == []


def test_group_update_replaces_in_place() -> None:
    group = GroupState()
    group.apply(frame("sync", 10, [A, B]))
    assert group.apply(change("update", 11, A2)) == Change("update", A2, True)
    assert group.state == [A2, B]
    assert group.last_timestamp == 11


def test_group_update_of_an_unknown_id_changes_no_item() -> None:
    """As in Motia's client: the list stays as it was (the update is not an insert), though it
    counts as a change and records the id's timestamp."""
    group = GroupState()
    group.apply(frame("sync", 10, [B]))
    assert group.apply(change("update", 11, A)) == Change("update", A, True)
    assert group.state == [B]
    assert group.item_timestamps == {"a": 11}


def test_group_update_drops_stale_timestamps_per_item() -> None:
    group = GroupState()
    group.apply(frame("sync", 10, [A, B]))
    group.apply(change("update", 12, A2))
    assert group.apply(change("update", 12, A3)) is None  # not newer for "a"
    assert group.apply(change("update", 11, A)) is None
    assert group.state == [A2, B]
    # Another item has its own last timestamp.
    b2 = {"id": "b", "description": "second, edited"}
    assert group.apply(change("update", 11, b2)) is not None
    assert group.state == [A2, b2]


def test_group_sync_forgets_the_per_item_timestamps() -> None:
    group = GroupState()
    group.apply(frame("sync", 10, [A]))
    group.apply(change("update", 20, A2))
    group.apply(frame("sync", 20, [A2]))
    assert group.item_timestamps == {}


def test_group_delete_removes_by_id() -> None:
    group = GroupState()
    group.apply(frame("sync", 10, [A, B]))
    assert group.apply(change("delete", 11, A)) == Change("delete", A, True)
    assert group.state == [B]
    # Deleting what is not there changes no item (Motia's client does not check timestamps).
    assert group.apply(change("delete", 5, A)) == Change("delete", A, True)
    assert group.state == [B]
    assert group.last_timestamp == 5
    # ...and a later stale update of the deleted id is dropped.
    assert group.apply(change("update", 4, A2)) is None


def test_group_custom_events_leave_the_state_alone() -> None:
    group = GroupState()
    group.apply(frame("sync", 10, [A]))
    event = {"type": "custom", "data": {"message": "hello"}}
    assert group.apply(frame("event", 3, event=event)) == Change("event", event, False)
    assert group.apply(frame("event", 3, event=event)) == Change("event", event, False)
    assert group.state == [A]
    assert group.last_timestamp == 10


def test_group_unauthorized_only_for_the_groups_own_join() -> None:
    group = GroupState()
    assert group.apply(frame("unauthorized", 1)) == Change("unauthorized", None, False)
    assert group.apply(frame("unauthorized", 1, item_id="a")) is None
    assert group.apply(frame("error", 1, {"code": "x", "message": "y"})) is None


def test_group_lists_are_never_changed_in_place() -> None:
    group = GroupState()
    group.apply(frame("sync", 10, [A]))
    before = group.state
    group.apply(change("create", 11, B))
    group.apply(change("update", 12, A2))
    group.apply(change("delete", 13, B))
    assert before == [A]
    assert group.state == [A2]


def test_the_todo_story_ends_where_motias_client_does() -> None:
    """A group and an item subscription fed the frames of create, complete and delete, each
    routed as Motia's client routes them."""
    group, item = GroupState(), ItemState()
    rooms: dict[RoomKey, GroupState | ItemState] = {
        room_key("todo", "todos"): group,
        room_key("todo", "todos", "a"): item,
    }
    done = {**A, "completedAt": "now"}
    frames = [
        frame("sync", 1, [A]),
        frame("sync", 1, A, item_id="a"),
        change("create", 2, B),
        change("create", 2, B),  # delivered twice: no duplicate
        change("update", 3, done),
        change("update", 3, done),  # delivered twice: taken once
        frame("event", 4, event={"type": "custom", "data": 1}),
        change("delete", 5, done),
    ]
    for message in frames:
        for room in rooms_for(message):
            if room in rooms:
                rooms[room].apply(message)
    assert group.state == [B]
    assert item.state is None
    assert item.last_timestamp == 5


# --- a sync in pages ------------------------------------------------------------------------

C = {"id": "c", "description": "third"}


def group_frame(timestamp: int, version: int, event: dict[str, Any]) -> StreamMessage:
    return StreamMessage.from_json(
        {
            "type": "stream",
            "timestamp": timestamp,
            "streamName": "todo",
            "groupId": "todos",
            "id": None,
            "version": version,
            "event": event,
        }
    )


def page(number: int, timestamp: int, items: list[dict[str, Any]], version: int) -> StreamMessage:
    return group_frame(timestamp, version, {"type": "syncPage", "page": number, "data": items})


def synced(timestamp: int, version: int, pages: int) -> StreamMessage:
    return group_frame(timestamp, version, {"type": "synced", "pages": pages})


def test_a_sync_in_pages_becomes_the_state_whole_at_synced_if_no_page_is_missing() -> None:
    group = GroupState()
    group.apply(frame("sync", 5, [A]))
    assert group.apply(page(0, 10, [A2], 7)) is None
    assert group.apply(page(1, 11, [B], 8)) is None
    assert group.state == [A], "nothing shown before the end"
    assert group.apply(synced(11, 8, 2)) == Change("sync", [A2, B], True)
    assert group.state == [A2, B]
    assert group.versions.last == 8

    group.apply(page(0, 20, [A], 9))
    group.apply(page(2, 21, [C], 10))  # page 1 never came
    assert group.apply(synced(21, 10, 3)) is None
    assert group.apply(page(1, 21, [B], 10)) is None, "no sync under way"
    group.apply(page(0, 30, [B], 11))
    assert group.apply(synced(30, 11, 2)) is None, "it says two pages; one came"
    assert group.state == [A2, B]


def test_changes_after_the_pages_are_applied_before_the_state_is_shown() -> None:
    group = GroupState()
    group.apply(page(0, 10, [A, B], 7))
    group.apply(page(1, 12, [C], 9))
    # Made while the pages were read: some in them already, some not.
    for message in (
        change("update", 11, A2),  # version 8, after page 0
        change("delete", 12, B),  # version 9, in page 1's read too
        change("create", 12, C),  # already in page 1: not twice
    ):
        assert group.apply(message) is None
    assert group.state == []
    assert group.apply(synced(12, 9, 2)) == Change("sync", [A2, C], True)
    assert group.apply(change("update", 13, A3)) == Change("update", A3, True)
    assert group.state == [A3, C]

    group.apply(page(0, 20, [A], 10))
    assert group.apply(frame("sync", 21, [B])) == Change("sync", [B], True)
    assert group.apply(synced(21, 10, 1)) is None, "a sync in one frame ended it"
    assert group.state == [B]
