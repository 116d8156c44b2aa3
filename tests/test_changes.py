"""What a batch of stream changes does (pure), and batches committed by the async Stream API."""

import asyncio
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

import pytest

from streams import StreamConfig, UpdateOpError
from streams.publishing.events import StreamEvent
from streams.signals import stream_event
from streams.storage.changes import (
    Change,
    ChangeKind,
    Effect,
    GroupState,
    ItemState,
    next_timestamp,
    plan,
)
from streams.storage.store import Stream


def prepare(stream_name: str, item_id: str, data: Any) -> dict[str, Any]:
    if data.get("broken"):
        raise ValueError("refused by the schema")
    return {"id": item_id, **data}


def item(item_id: str, kind: ChangeKind = "update", value: Any = None) -> Change:
    return Change(kind, "s", "g", item_id, value)


def n_of(item: dict[str, Any] | None) -> Any:
    return None if item is None else item["n"]


def increment(item_id: str, by: int = 1) -> Change:
    return item(item_id, "update", [{"type": "increment", "path": "n", "by": by}])


def test_timestamps_follow_the_clock_and_never_go_back() -> None:
    assert next_timestamp(100, 500) == 500
    assert next_timestamp(500, 500) == 501
    assert next_timestamp(900, 500) == 901, "a clock going back never goes back on the wire"


def test_changes_of_one_item_apply_in_order_each_with_its_version() -> None:
    groups = {("s", "g"): GroupState(pk=1, version=7, last_timestamp=1000)}
    items = {("s", "g", "a"): ItemState(pk=5, data={"id": "a", "n": 1})}
    result = plan(
        [increment("a"), increment("a", 10), increment("a")], groups, items, prepare, 1000
    )
    effects = result.effects
    counts = [(n_of(e.old), n_of(e.new)) for e in effects]
    assert counts == [(1, 2), (2, 12), (12, 13)]
    assert [e.version for e in effects] == [8, 9, 10]
    assert [e.timestamp for e in effects] == [1001, 1002, 1003], "strictly increasing"
    assert groups[("s", "g")].version == 10
    assert items[("s", "g", "a")].data == {"id": "a", "n": 13}, "the item's final state"


def test_a_change_that_cannot_apply_fails_alone_and_takes_no_version() -> None:
    groups = {("s", "g"): GroupState(1, 0, 0)}
    items = {("s", "g", "a"): ItemState(None, None), ("s", "g", "b"): ItemState(None, None)}
    bad_op = item("a", "update", [{"type": "explode"}])
    refused = item("b", "update", [{"type": "set", "path": "broken", "value": True}])
    outcomes = plan([bad_op, refused, increment("a")], groups, items, prepare, 50).outcomes
    assert isinstance(outcomes[0], UpdateOpError)
    assert isinstance(outcomes[1], ValueError)
    assert isinstance(outcomes[2], Effect) and outcomes[2].version == 1
    assert outcomes[2].result == {"old_value": None, "new_value": {"id": "a", "n": 1}}
    assert items[("s", "g", "b")].data is None


def test_deletes_sends_and_recreation() -> None:
    groups = {("s", "g"): GroupState(1, 0, 0)}
    items = {("s", "g", "a"): ItemState(3, {"id": "a"}), ("s", "g", "x"): ItemState(None, None)}
    changes = [
        item("x", "delete"),  # nothing to delete: no event, no version
        item("a", "delete"),
        Change("send", "s", "g", None, {"type": "ping", "data": 1}),
        item("a", "set", {"id": "a", "again": True}),
    ]
    outcomes = plan(changes, groups, items, prepare, 10).outcomes
    assert outcomes[0] == {"old_value": None}
    delete, send, recreate = outcomes[1:]
    assert isinstance(delete, Effect) and delete.result == {"old_value": {"id": "a"}}
    assert isinstance(send, Effect) and send.result is None and send.version == 2
    assert isinstance(recreate, Effect) and recreate.old is None and recreate.version == 3
    assert items[("s", "g", "a")].data == {"id": "a", "again": True}


# --- batches committed by the async Stream API ------------------------------------------------


@pytest.fixture
def committed() -> Iterator[list[StreamEvent]]:
    """Every stream event committed, from any thread (the batches commit on a database one)."""
    seen: list[StreamEvent] = []

    def receive(sender: Any, event: StreamEvent, **_: Any) -> None:
        seen.append(event)

    stream_event.connect(receive, dispatch_uid="tests.committed")
    yield seen
    stream_event.disconnect(dispatch_uid="tests.committed")


@pytest.mark.django_db(transaction=True)
async def test_concurrent_increments_commit_in_batches_each_with_its_own_event(
    define_stream: Callable[..., StreamConfig], committed: list[StreamEvent]
) -> None:
    counters = Stream(define_stream("counters"))

    async def add() -> int:
        result = await counters.update("g", "c", [{"type": "increment", "path": "n"}])
        return int(result["new_value"]["n"])

    seen = sorted(await asyncio.gather(*(add() for _ in range(60))))
    assert seen == list(range(1, 61)), "each caller got its own change's result"
    assert await counters.get("g", "c") == {"id": "c", "n": 60}
    mine = [e for e in committed if e.stream_name == "counters"]
    assert [e.data["n"] for e in mine] == list(range(1, 61)), "one event per change, in order"
    assert [e.version for e in mine] == list(range(1, 61))
    assert all(a.timestamp < b.timestamp for a, b in pairwise(mine))


@pytest.mark.django_db(transaction=True)
async def test_a_bad_change_in_a_batch_fails_alone(
    define_stream: Callable[..., StreamConfig],
) -> None:
    notes = Stream(define_stream("notes"))

    async def good(n: int) -> Any:
        return await notes.set("g", f"n{n}", {"n": n})

    async def bad() -> Any:
        return await notes.update("g", "n0", [{"type": "increment", "path": "n", "by": "x"}])

    results = await asyncio.gather(*(good(n) for n in range(5)), bad(), return_exceptions=True)
    assert isinstance(results[-1], UpdateOpError)
    assert sorted(item["n"] for item in await notes.list("g")) == [0, 1, 2, 3, 4]
