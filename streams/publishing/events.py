"""Stream change events, their frames and their channel-layer messages, as pure values."""

import hashlib
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from ..sockets import protocol

ChangeType = Literal["create", "update", "delete", "event"]

# The trace id of the step handler making changes, so that the steps a change triggers carry
# it on (set by the steps app around each handler call).
current_trace_id: ContextVar[str | None] = ContextVar("current_trace_id", default=None)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


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
        """The wire frame, encoded once however many subscribers receive it (and however many
        replays send it again: the log keeps this text)."""
        if self.type == "event":
            payload = {"type": "event", "event": self.data}
        else:
            payload = {"type": self.type, "data": self.data}
        return protocol.stream_frame(
            self.stream_name, self.group_id, self.item_id, self.timestamp, payload, self.version
        )


# --- the event as a channel-layer message, between server processes ------------------------

LAYER_MESSAGE_TYPE = "streams.event"
# Sent after the layer was unreachable: the group's events may have been missed, re-sync it.
RESYNC_MESSAGE_TYPE = "streams.resync"


def layer_group_name(stream_name: str, group_id: str) -> str:
    """A channel-layer group name for a stream group (layer names allow few characters)."""
    digest = hashlib.blake2b(f"{stream_name}\x00{group_id}".encode(), digest_size=16).hexdigest()
    return f"streams.{digest}"


def layer_message(event: StreamEvent) -> dict[str, Any]:
    """What crosses the layer: the group, the item, the version and the encoded frame."""
    return {
        "type": LAYER_MESSAGE_TYPE,
        "s": event.stream_name,
        "g": event.group_id,
        "i": event.item_id,
        "v": event.version,
        "f": event.frame,
    }


def resync_message(stream_name: str, group_id: str) -> dict[str, Any]:
    return {"type": RESYNC_MESSAGE_TYPE, "s": stream_name, "g": group_id}
