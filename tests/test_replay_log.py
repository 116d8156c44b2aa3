"""The replay log: its rules as pure logic, then the rows the Stream API writes and reads."""

from collections.abc import Callable

import orjson
import pytest
from django.db import IntegrityError
from django.test import override_settings

from streams import StreamConfig
from streams.client.state import GroupState, ItemState, StreamMessage, Versions
from streams.models import StreamGroup, StreamLogEntry
from streams.sockets.answers import join_answer
from streams.sockets.protocol import ProtocolError, Subscription, parse_client_frame
from streams.storage.replay import LogEntry, ReplayPage, prune_below, replay_page
from streams.storage.store import SyncStream
from tests.helpers.wire import join_message

SIZE = 100


def entries(*versions: int, item: str | None = "a") -> list[LogEntry]:
    return [LogEntry(v, item, f"frame {v}") for v in versions]


# --- whether a re-join replays --------------------------------------------------------------


def test_a_log_that_reaches_back_replays_every_missed_frame_in_order() -> None:
    page = replay_page(3, 6, entries(4, 5, 6), None, SIZE)
    assert page == ReplayPage(["frame 4", "frame 5", "frame 6"], 6, True)


def test_a_page_of_the_log_replays_part_of_the_way() -> None:
    assert replay_page(3, 9, entries(4, 5), None, SIZE) == ReplayPage(
        ["frame 4", "frame 5"], 5, False
    )


def test_nothing_missed_replays_nothing() -> None:
    assert replay_page(6, 6, [], None, SIZE) == ReplayPage([], 6, True)
    assert replay_page(0, 0, [], None, SIZE) == ReplayPage([], 0, True), "never changed"


@pytest.mark.parametrize(
    ("since", "current", "versions"),
    [
        (3, 6, (5, 6)),  # version 4 pruned: the log no longer reaches back
        (3, 6, ()),  # the whole log pruned (or never written, before the log existed)
        (3, 6, (4, 6)),  # a hole (cannot happen: each version is logged in its transaction)
        (7, 6, ()),  # a version this group never had (a reset database, another server's)
    ],
)
def test_a_sync_when_the_log_cannot_tell_every_missed_frame(
    since: int, current: int, versions: tuple[int, ...]
) -> None:
    assert replay_page(since, current, entries(*versions), None, SIZE) is None


def test_no_log_means_a_sync_even_when_nothing_was_missed() -> None:
    assert replay_page(6, 6, [], None, 0) is None


def test_an_item_subscription_replays_its_item_but_checks_the_whole_group() -> None:
    log = [LogEntry(4, "a", "a4"), LogEntry(5, None, "event"), LogEntry(6, "b", "b6")]
    assert replay_page(3, 6, log, "a", SIZE) == ReplayPage(["a4"], 6, True)
    assert replay_page(3, 6, log, "c", SIZE) == ReplayPage([], 6, True)
    assert replay_page(3, 6, log[1:], "b", SIZE) is None, "version 4 is gone"
    unread = [LogEntry(4, "a", "a4"), LogEntry(5, "b", None)]
    assert replay_page(3, 6, unread, "a", SIZE) == ReplayPage(["a4"], 5, False)


def test_pruning_happens_once_a_step_and_keeps_the_last_size_versions() -> None:
    # A step of size // 8: from 100 to 112 crosses 108 and keeps 13..112.
    assert prune_below(SIZE, 100, 112) == 12
    assert prune_below(SIZE, 100, 103) is None, "no step crossed: nothing to prune"
    assert prune_below(SIZE, 0, 90) is None, "fewer versions than the log holds"
    assert prune_below(0, 100, 200) is None, "no log"
    assert prune_below(1, 5, 6) == 5


# --- the versions a client took -------------------------------------------------------------


def test_versions_drop_what_was_taken_and_take_what_came_late() -> None:
    versions = Versions()
    assert [versions.take(v) for v in (1, 2, 5)] == [True, True, True]
    assert versions.gaps == [(3, 4)]
    assert versions.take(2) is False, "taken already"
    assert versions.take(4) is True, "late: it falls in a gap"
    assert versions.gaps == [(3, 3)]
    assert versions.take(4) is False
    versions.reset(10)
    assert (versions.last, versions.gaps, versions.take(3)) == (10, [], False)


def test_versions_keep_a_bounded_number_of_gaps() -> None:
    versions = Versions()
    for version in range(0, 1000, 2):
        versions.take(version)
    assert len(versions.gaps) == 64
    assert versions.take(1) is False, "the oldest gaps are forgotten"
    assert versions.take(997) is True


def message(kind: str, version: int | None, timestamp: int, **fields: object) -> StreamMessage:
    frame = {
        "type": "stream",
        "timestamp": timestamp,
        "streamName": "s",
        "groupId": "g",
        "id": fields.pop("id", None),
        "version": version,
        "event": {"type": kind, **fields},
    }
    return StreamMessage.from_json(frame)


def test_a_group_state_takes_a_replayed_frame_once() -> None:
    state = GroupState()
    assert state.apply(message("sync", 3, 10, data=[]))
    event = message("event", 4, 11, event={"type": "ping", "data": 1})
    assert state.apply(event) is not None
    assert state.apply(event) is None, "a custom event replayed twice is taken once"
    assert state.apply(message("create", 2, 9, id="x", data={"id": "x"})) is None, "in the sync"
    assert state.apply(message("replayed", 9, 12)) is None
    assert state.versions.last == 9


def test_an_item_state_ignores_the_end_of_a_replay_for_its_timestamps() -> None:
    state = ItemState()
    state.apply(message("sync", 3, 10, id="a", data={"id": "a"}))
    assert state.apply(message("replayed", 8, 50, id="a")) is None
    assert state.last_timestamp == 10, "the replayed frame is no change of the item"
    assert state.apply(message("update", 9, 20, id="a", data={"id": "a", "n": 1}))
    assert state.state == {"id": "a", "n": 1}


def test_an_item_sync_dropped_as_not_newer_still_moves_the_version_on() -> None:
    state = ItemState()
    state.apply(message("update", 5, 20, id="a", data={"id": "a", "n": 1}))
    assert state.apply(message("sync", 8, 20, id="a", data={"id": "a", "n": 1})) is None
    assert (state.versions.last, state.state) == (8, {"id": "a", "n": 1})


def test_frames_without_versions_follow_motia_rules_alone() -> None:
    state = GroupState()
    state.apply(message("sync", None, 10, data=[]))
    custom = message("event", None, 11, event={"type": "ping"})
    assert state.apply(custom) is not None and state.apply(custom) is not None
    assert state.versions.last is None


# --- the join field -------------------------------------------------------------------------


def join_text(**extra: object) -> str:
    return orjson.dumps(join_message("s", "g", subscription="x", extra=extra)).decode()


def test_a_join_may_carry_the_last_version_taken() -> None:
    frame = parse_client_frame(join_text(sinceVersion=42))
    assert frame.since_version == 42
    assert frame.subscription == Subscription("s", "g", None, "x"), "not part of the identity"
    assert parse_client_frame(join_text()).since_version is None


@pytest.mark.parametrize("since", [-1, 1.5, "3", True, [1], 2**63])
def test_a_bad_since_version_is_refused(since: object) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame(join_text(sinceVersion=since))
    assert caught.value.code == "invalid_frame"


# --- the rows -------------------------------------------------------------------------------


@pytest.fixture
def notes(define_stream: Callable[..., StreamConfig]) -> SyncStream:
    return SyncStream(define_stream("notes"))


def logged(group_id: str = "g") -> list[tuple[int, str | None, dict]]:
    rows = StreamLogEntry.objects.filter(stream_name="notes", group_id=group_id)
    return [(r.version, r.item_id, orjson.loads(r.frame)) for r in rows.order_by("version")]


@pytest.mark.django_db(transaction=True)
def test_every_change_and_custom_event_is_logged_with_the_frame_sent(
    notes: SyncStream, events: list
) -> None:
    notes.set("g", "a", {"n": 1})
    notes.send({"groupId": "g"}, {"type": "ping", "data": 1})
    notes.update("g", "a", [{"type": "increment", "path": "n"}])
    notes.delete("g", "a")
    notes.delete("g", "a")  # nothing to delete: no event, no version
    rows = logged()
    assert [(v, i) for v, i, _ in rows] == [(1, "a"), (2, None), (3, "a"), (4, "a")]
    assert [frame for _, _, frame in rows] == [orjson.loads(e.frame) for e in events]
    assert [frame["version"] for _, _, frame in rows] == [1, 2, 3, 4]


@pytest.mark.django_db(transaction=True)
@override_settings(STREAMS_REPLAY_LOG_SIZE=16)
def test_the_log_is_pruned_to_its_size_and_then_a_rejoin_syncs(notes: SyncStream) -> None:
    for n in range(40):
        notes.set("g", "a", {"n": n})
    versions = [v for v, _, _ in logged()]
    assert versions[-1] == 40 and 16 <= len(versions) <= 16 + 2
    assert versions == list(range(versions[0], 41))
    group = Subscription("notes", "g", None)
    part = join_answer(group, 30, False)
    assert (part.kind, part.version, part.rest) == ("replay", 40, None)
    assert [orjson.loads(f)["version"] for f in part.frames] == list(range(31, 41))
    part = join_answer(group, 2, False)
    assert part.kind == "sync"
    sync = orjson.loads(part.frames[0])
    assert (len(part.frames), sync["event"]["type"], sync["version"]) == (1, "sync", 40)


@pytest.mark.django_db(transaction=True)
def test_an_item_join_replays_its_item_and_ends_at_the_group_version(notes: SyncStream) -> None:
    notes.set("g", "a", {"n": 1})
    notes.set("g", "b", {"n": 1})
    notes.send({"groupId": "g", "id": "a"}, {"type": "ping"})
    notes.send({"groupId": "g"}, {"type": "all"})
    part = join_answer(Subscription("notes", "g", "a"), 1, False)
    decoded = [orjson.loads(f) for f in part.frames]
    assert [(f["version"], f["id"], f["event"]["type"]) for f in decoded] == [(3, "a", "event")]
    assert (part.kind, part.version) == ("replay", 4), "it ends at the group's version"


@pytest.mark.django_db(transaction=True)
def test_a_group_made_again_goes_on_from_its_logged_version(notes: SyncStream) -> None:
    notes.set("g", "a", {"n": 1})
    notes.delete("g", "a")
    last_timestamp = StreamGroup.objects.get(stream_name="notes", group_id="g").last_timestamp
    StreamGroup.objects.filter(stream_name="notes", group_id="g").delete()
    assert join_answer(Subscription("notes", "g", None), 1, False).kind == "sync", "gone"
    notes.set("g", "b", {"n": 1})
    group = StreamGroup.objects.get(stream_name="notes", group_id="g")
    assert group.version == 3 and group.last_timestamp > last_timestamp
    part = join_answer(Subscription("notes", "g", None), 1, False)
    assert [orjson.loads(f)["event"]["type"] for f in part.frames] == ["delete", "create"]
    assert part.version == 3


@pytest.mark.django_db(transaction=True)
def test_a_batch_whose_log_row_the_database_refuses_changes_nothing(
    notes: SyncStream, events: list
) -> None:
    # The log row is written after the batch's group and item rows, in their transaction:
    # refused, it takes them back with it, and the batch's events never go out.
    notes.set("g", "a", {"n": 1})
    StreamLogEntry.objects.create(  # the version the next change takes
        stream_name="notes", group_id="g", version=2, item_id=None, timestamp=0, frame="{}"
    )
    with pytest.raises(IntegrityError):
        notes.set("g", "b", {"n": 2})
    assert [item["id"] for item in notes.list("g")] == ["a"]
    assert StreamGroup.objects.get(stream_name="notes", group_id="g").version == 1
    assert [event.item_id for event in events] == ["a"], "no event of the failed batch"
    StreamLogEntry.objects.filter(frame="{}").delete()
    notes.update("g", "a", [{"type": "increment", "path": "n"}])  # the connection goes on
    assert notes.get("g", "a") == {"id": "a", "n": 2}
