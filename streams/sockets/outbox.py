"""The frames waiting for one socket whose reader is behind (docs/protocol.md: Slow readers).

Pure bookkeeping, no I/O: the consumer puts a frame here while a send to its socket is
blocked, and takes frames out in order when the socket drains.
"""

from collections import deque
from dataclasses import dataclass
from typing import Any

Message = dict[str, Any]  # an ASGI websocket.send message
ItemKey = tuple[str, str, str]  # (stream name, group id, item id)

# Every change frame starts with these fields in this order (protocol.stream_frame), and
# strings inside them have their quotes escaped, so the first match is the event's own type.
_EVENT_TYPE_MARK = ',"event":{"type":"'


@dataclass(slots=True)
class Pending:
    """One waiting frame; ``message`` is None once a newer frame superseded it."""

    message: Message | None
    size: int
    update_of: ItemKey | None  # the item, for an update (the only kind superseded)


def event_type(frame: str) -> str:
    """The ``event.type`` of an encoded server frame, without decoding its data."""
    start = frame.find(_EVENT_TYPE_MARK)
    if start < 0:
        return ""
    start += len(_EVENT_TYPE_MARK)
    return frame[start : frame.find('"', start)]


class Outbox:
    """The frames queued for one socket, in order, bounded by their number and their bytes.

    A pending ``update`` of an item is superseded by a newer ``update`` or ``delete`` of the
    same item, which goes to the back: a reader that catches up gets the item's current state
    without every step in between. Creates, deletes, syncs and custom events are never
    dropped, so a client's state ends as it would have frame by frame.
    """

    def __init__(self, max_frames: int, max_bytes: int) -> None:
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.frames = 0  # live frames waiting
        self.bytes = 0
        self._queue: deque[Pending] = deque()
        self._updates: dict[ItemKey, Pending] = {}  # each item's waiting update

    def __len__(self) -> int:
        return self.frames

    def push(self, message: Message, item: ItemKey | None = None) -> bool:
        """Queue ``message`` (a change of ``item``, if given); False if that would break the
        bounds, and then nothing changes. One frame is always taken, however large."""
        text = message.get("text") or message.get("bytes") or ""
        size = len(text)
        kind = event_type(text) if item is not None and isinstance(text, str) else ""
        superseded = self._updates.get(item) if item and kind in ("update", "delete") else None
        frames = self.frames + (0 if superseded else 1)
        total = self.bytes + size - (superseded.size if superseded else 0)
        if self.frames and (frames > self.max_frames or total > self.max_bytes):
            return False
        if superseded is not None:
            assert item is not None  # superseded is only ever found under an item
            superseded.message = None  # skipped when its turn comes
            del self._updates[item]
        pending = Pending(message, size, item if kind == "update" else None)
        self._queue.append(pending)
        if pending.update_of is not None:
            self._updates[pending.update_of] = pending
        self.frames, self.bytes = frames, total
        return True

    def pop(self) -> Message | None:
        """The next frame to send, or None when nothing waits."""
        while self._queue:
            pending = self._queue.popleft()
            if pending.message is None:
                continue
            self.frames -= 1
            self.bytes -= pending.size
            if pending.update_of is not None:
                del self._updates[pending.update_of]
            return pending.message
        return None

    def clear(self) -> None:
        self._queue.clear()
        self._updates.clear()
        self.frames = self.bytes = 0
