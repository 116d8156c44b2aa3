"""The rules of a join's answer read in parts, as pure logic (no I/O).

A join is answered with a ``sync`` or a replay (:mod:`streams.sockets.answers`). A group of
any size, or a replay of any length, is read and sent a page at a time
(``STREAMS_SYNC_PAGE_BYTES`` of items or frames), each page read once the socket has taken
most of the one before (:mod:`streams.sockets.consumers`): the server holds about a page per join,
whatever the size of the group, and a fast reader gets everything, as fast as it reads.

Here: how many rows the next page looks at (:func:`next_limit`), and the frames of a group
that come while a join of it is answered (:class:`Hold`): they must follow the answer, as in
a one-frame answer, but a paced answer takes a while, so they are bounded. Past the bound they
are dropped, and the answer goes on from the replay log, which holds every one of them.
"""

from typing import Any

Message = dict[str, Any]  # an ASGI websocket.send message

# Rows the first page of an answer looks at: a group that small and within a page's bytes is
# answered in one read (shared by every join waiting for it); and the bounds of the next ones.
FIRST_LIMIT = 1000
MIN_LIMIT = 2
MAX_LIMIT = 4096
# Rows looked at by a read that must see the whole group (a sync in one frame): its bytes bound
# what it takes, not its rows.
ALL_ROWS = 2**62


def next_limit(limit: int, taken: int, cut: bool) -> int:
    """How many rows the next page looks at, after one that looked at ``limit`` and took
    ``taken``. The database sizes each row it looks at (on PostgreSQL by writing it out), so
    after a page its bytes cut, a quarter more than fitted; after one whose rows all fitted,
    twice as many."""
    wanted = taken + taken // 4 + 1 if cut else 2 * limit
    return max(MIN_LIMIT, min(MAX_LIMIT, wanted))


def largest_frame(max_sync_bytes: int, page_bytes: int, max_item_bytes: int) -> int:
    """About the largest frame a join's answer makes: a whole sync, or a page, of up to its
    budget of items and the item that passes it, with an eighth more for what the frame says
    around them."""
    budget = max(max_sync_bytes, page_bytes)
    return budget + max_item_bytes + budget // 8


class Hold:
    """The frames of one group that came for a socket while a join of the group is answered,
    in the order they came (the group's version order): sent once the answer is.

    Bounded by frames and bytes: :meth:`add` refuses a frame past them, and the socket then
    either :meth:`drop`\\ s them all (the answer goes on from the replay log, past the last
    version dropped) or is closed as a slow reader.
    """

    def __init__(self, max_frames: int, max_bytes: int) -> None:
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.frames: list[tuple[Message, str | None, int]] = []  # (message, item, version)
        self.bytes = 0
        self.dropped_to: int | None = None  # the last version dropped, if any
        self.last_seen: int | None = None  # the last version that came, held or dropped
        self.item_id: str | None = None  # the item the answer is about (None: the group)

    def add(self, message: Message, item_id: str | None, version: int) -> bool:
        """Hold a frame (about ``item_id``, at ``version``); False, holding nothing, when that
        would pass the bounds."""
        text = message.get("text") or message.get("bytes") or ""
        size = len(text)
        self.last_seen = max(version, self.last_seen or 0)
        if len(self.frames) + 1 > self.max_frames or self.bytes + size > self.max_bytes:
            return False
        self.frames.append((message, item_id, version))
        self.bytes += size
        return True

    def drop(self, version: int) -> None:
        """Forget every frame held, the one at ``version`` that did not fit included."""
        self.frames = []
        self.bytes = 0
        self.dropped_to = max(version, self.dropped_to or 0)

    def take(self, up_to: int | None = None) -> list[tuple[Message, str | None, int]]:
        """The frames held (those up to version ``up_to``, if given), in order; they are held
        no more."""
        if up_to is None:
            frames, self.frames, self.bytes = self.frames, [], 0
            return frames
        frames = [frame for frame in self.frames if frame[2] <= up_to]
        self.frames = self.frames[len(frames) :]
        self.bytes -= sum(len(m.get("text") or m.get("bytes") or "") for m, _, _ in frames)
        return frames
