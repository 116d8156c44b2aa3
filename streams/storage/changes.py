"""What a batch of stream changes does, as pure logic: no I/O, no Django.

Writers hand the store :class:`Change` values; :func:`plan` applies them in order to the
groups and items as they stand (read from the database under the groups' locks) and returns,
for every change, either the :class:`Effect` it has (its item before and after, and the
version and timestamp it takes in its group) or why it cannot apply. Applying a batch at once
is what lets many changes share one transaction: a hot item is read once and written once,
however many changes it takes, and each change still gets an event of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .ops import apply_ops

ChangeKind = Literal["set", "update", "delete", "send"]
GroupKey = tuple[str, str]
ItemKey = tuple[str, str, str]
# Validates an item for its stream and gives it its id: (stream name, item id, data) -> item.
Prepare = Callable[[str, str, Any], dict[str, Any]]


@dataclass(frozen=True)
class Change:
    """One change asked of a stream.

    ``value`` is the prepared item for ``set``, the list of ops for ``update``, nothing for
    ``delete``, and the ``{"type", "data"}`` event for ``send`` (whose ``item_id`` may be None).
    ``trace_id`` is the trace of the handler that asked for it, carried by its event.
    """

    kind: ChangeKind
    stream_name: str
    group_id: str
    item_id: str | None
    value: Any = None
    trace_id: str | None = None

    @property
    def group_key(self) -> GroupKey:
        return (self.stream_name, self.group_id)

    @property
    def item_key(self) -> ItemKey:
        assert self.item_id is not None
        return (self.stream_name, self.group_id, self.item_id)


@dataclass
class GroupState:
    """A group's row as locked: its version and last timestamp move as changes apply."""

    pk: int
    version: int
    last_timestamp: int


@dataclass
class ItemState:
    """An item's row: ``data`` None while the item does not exist."""

    pk: int | None
    data: dict[str, Any] | None


@dataclass(frozen=True)
class Effect:
    """What one change did: ``new`` is None for a delete; for ``send`` both are None."""

    change: Change
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    version: int
    timestamp: int

    @property
    def result(self) -> dict[str, Any] | None:
        """What the Stream API call returns."""
        kind = self.change.kind
        if kind == "send":
            return None
        if kind == "delete":
            return {"old_value": self.old}
        return {"old_value": self.old, "new_value": self.new}


# A change's outcome: its effect, its answer when it changes nothing, or why it failed.
Outcome = Effect | dict[str, Any] | Exception


@dataclass
class Plan:
    """The outcome of each change, in order, and the effects among them."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def effects(self) -> list[Effect]:
        return [outcome for outcome in self.outcomes if isinstance(outcome, Effect)]


def next_timestamp(previous: int, now: int) -> int:
    """A timestamp strictly greater than ``previous``, as close to the wall clock as possible.

    Clients drop a frame whose timestamp is not greater than the last one they saw for an item,
    so two changes in the same millisecond must still get distinct, increasing timestamps.
    """
    return max(now, previous + 1)


def plan(
    changes: Iterable[Change],
    groups: Mapping[GroupKey, GroupState],
    items: Mapping[ItemKey, ItemState],
    prepare: Prepare,
    now: int,
) -> Plan:
    """Apply ``changes`` in order to ``groups`` and ``items`` (updated in place to their final
    state). A change that cannot apply changes nothing and does not stop the others."""
    result = Plan()
    for change in changes:
        group = groups[change.group_key]
        if change.kind == "send":
            result.outcomes.append(_advance(group, change, None, None, now))
            continue
        item = items[change.item_key]
        old = item.data
        if change.kind == "delete":
            if old is None:
                result.outcomes.append({"old_value": None})  # nothing to delete: no event
                continue
            new = None
        else:
            try:
                new = _new_item(change, old, prepare)
            except ValueError as error:  # an op that cannot apply, an item the schema refuses
                result.outcomes.append(error)
                continue
        item.data = new
        result.outcomes.append(_advance(group, change, old, new, now))
    return result


def _new_item(change: Change, old: dict[str, Any] | None, prepare: Prepare) -> dict[str, Any]:
    assert change.item_id is not None
    if change.kind == "set":
        prepared: dict[str, Any] = change.value  # by the writer
        return prepared
    return prepare(change.stream_name, change.item_id, apply_ops(old, change.value))


def _advance(
    group: GroupState,
    change: Change,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    now: int,
) -> Effect:
    group.version += 1
    group.last_timestamp = next_timestamp(group.last_timestamp, now)
    return Effect(change, old, new, group.version, group.last_timestamp)
