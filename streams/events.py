"""Stream change events and their timestamps, as pure values."""

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from . import protocol

ChangeType = Literal["create", "update", "delete", "event"]

# The trace id of the step handler making changes, so that the steps a change triggers carry
# it on (set by the steps app around each handler call).
current_trace_id: ContextVar[str | None] = ContextVar("current_trace_id", default=None)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def next_timestamp(previous: int, now: int) -> int:
    """A timestamp strictly greater than ``previous``, as close to the wall clock as possible.

    Clients drop a frame whose timestamp is not greater than the last one they saw for an item,
    so two changes in the same millisecond must still get distinct, increasing timestamps.
    """
    return max(now, previous + 1)


@dataclass(frozen=True)
class StreamEvent:
    """One committed change of a stream (or a custom event sent to it).

    ``version`` is the group's version after the change: it orders every event of a group.
    For ``create``/``update`` ``data`` is the new item, for ``delete`` the old one, and for a
    custom ``event`` it is ``{"type": ..., "data": ...}``.
    """

    type: ChangeType
    stream_name: str
    group_id: str
    item_id: str | None
    data: Any
    timestamp: int
    version: int
    trace_id: str | None = field(default_factory=current_trace_id.get, compare=False)

    @cached_property
    def frame(self) -> str:
        """The wire frame, encoded once however many subscribers receive it."""
        if self.type == "event":
            payload = {"type": "event", "event": self.data}
        else:
            payload = {"type": self.type, "data": self.data}
        return protocol.stream_frame(
            self.stream_name, self.group_id, self.item_id, self.timestamp, payload
        )
