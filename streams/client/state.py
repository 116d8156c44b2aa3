"""How a stream client keeps state from server frames, as pure values (no I/O, no Django).

These are the rules of Motia's published clients (``@motiadev/stream-client``), which our
Python client (:mod:`streams.client.stream_client`) follows so that both end in the same state:

- routing (:func:`rooms_for`): a frame goes to the subscriptions of its item when it has an
  ``id``, or of its group when not; a frame with an ``id`` also goes to the group's
  subscriptions, unless it is a ``sync`` (an item's sync is not the group's);
- an item subscription (:class:`ItemState`) starts at ``None``; it drops a frame whose timestamp
  is not greater than the last one it took; ``sync``/``create``/``update`` set the state to the
  frame's data and ``delete`` sets ``None``;
- a group subscription (:class:`GroupState`) starts at ``[]``; ``sync`` replaces the list unless
  it is older than the last timestamp seen; ``create`` appends unless an item with that ``id``
  is there; ``update`` replaces the item with that ``id`` unless the frame is not newer than the
  last one seen for that ``id``; ``delete`` removes by ``id``;
- custom ``event`` frames leave the state alone and go to event listeners.

On top of those rules, frames carry their group's ``version`` (:class:`Versions`): each
subscription remembers the versions it took, drops a frame it already took (a replay after a
reconnection may send one again, through another subscription of the same group), and re-joins
with the last one (``sinceVersion``), so that the server replays what it missed instead of
sending a ``sync``. A ``sync`` brings a subscription to the version it carries, and so does the
``replayed`` frame that ends a replay; both go to their own room only.

A group larger than a page comes to a client that says it takes them (``syncPages``) in
several frames: ``syncPage`` frames (numbered from 0) with the items, then the group's changes
made meanwhile, then a ``synced`` frame with the number of pages. A group subscription
assembles them apart from its state, applies those changes to the assembly by the rules above,
and takes the whole as its state at ``synced``, as one sync: it never shows a part of the
group as the whole.

Two kinds of frame are notices rather than changes, and take no timestamp: ``unauthorized``
(a join refused by ``on_join``) and ``error`` (a frame the server could not use; its ``id`` is
always null). Motia's item subscriptions would count an ``unauthorized`` frame's timestamp as
seen; as no further frame is sent for a refused subscription, the states are the same.
"""

from dataclasses import dataclass
from typing import Any, Literal, cast

RoomKey = tuple[str, str, str | None]
"""``(stream name, group id, item id or None)``: where a subscription listens."""

ChangeKind = Literal["sync", "create", "update", "delete", "event", "unauthorized"]


def room_key(stream_name: str, group_id: str, item_id: str | None = None) -> RoomKey:
    """The room of a group subscription (no ``item_id``) or of an item subscription."""
    return (stream_name, group_id, item_id or None)


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One decoded server frame (``{"type": "stream", ...}``).

    ``kind`` is the event's type (``sync``, ``create``, ``update``, ``delete``, ``event``,
    ``unauthorized``, ``error`` ...); ``data`` is the event's ``data`` (items, an item, or an
    error's ``{"code", "message"}``); ``event`` is a custom event's ``{"type", "data"}``.
    """

    kind: str
    timestamp: int
    stream_name: str | None
    group_id: str | None
    id: str | None
    data: Any = None
    event: Any = None
    version: int | None = None
    page: int | None = None  # a ``syncPage``'s number; a ``synced`` frame's count of pages

    @classmethod
    def from_json(cls, message: Any) -> "StreamMessage":
        """Read a decoded JSON frame; raise :class:`ValueError` if it is not a stream frame."""
        if not isinstance(message, dict) or message.get("type") != "stream":
            raise ValueError(f"not a stream frame: {message!r:.200}")
        event = message.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise ValueError(f"stream frame without an event type: {message!r:.200}")
        timestamp = message.get("timestamp")
        if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
            timestamp = 0
        item_id = message.get("id")
        version = _integer(message.get("version"))
        page = _integer(event.get("page", event.get("pages")))
        return cls(
            kind=event["type"],
            timestamp=int(timestamp),
            stream_name=message.get("streamName"),
            group_id=message.get("groupId"),
            id=item_id if isinstance(item_id, str) and item_id else None,
            data=event.get("data"),
            event=event.get("event"),
            version=version,
            page=page,
        )


def _integer(value: Any) -> int | None:
    return None if isinstance(value, bool) or not isinstance(value, int) else value


def rooms_for(message: StreamMessage) -> list[RoomKey]:
    """The rooms whose subscriptions take this frame, as Motia's client routes it."""
    if message.stream_name is None or message.group_id is None:
        return []
    group = room_key(message.stream_name, message.group_id)
    if message.id is None:
        return [group]
    rooms = [room_key(message.stream_name, message.group_id, message.id)]
    if message.kind not in ("sync", "replayed"):  # about the item's subscription alone
        rooms.append(group)
    return rooms


@dataclass(frozen=True, slots=True)
class Change:
    """What a frame did to a subscription, for its listeners.

    ``kind`` names the listeners to call; ``data`` is their argument (the new item, the deleted
    item, the synced items or item, or a custom event's ``{"type", "data"}``). ``state_changed``
    says whether the state was set (the ``'*'`` listeners get the new state).
    """

    kind: ChangeKind
    data: Any
    state_changed: bool


def _item_id(item: Any) -> Any:
    return item.get("id") if isinstance(item, dict) else None


MAX_GAPS = 64


class Versions:
    """The group versions a subscription took: the last one, and the gaps below it.

    Frames of a group reach a subscription in version order, save two exceptions: one the
    server released late (it waits only so long for a missing version), which must still be
    taken, and one a replay sends again, which must not. A gap is a run of versions skipped
    (other items' frames, updates a slow reader's outbox superseded, a late frame): a frame
    below the last version is new only if it falls in one. At most :data:`MAX_GAPS` gaps are
    kept, the oldest forgotten first.
    """

    def __init__(self) -> None:
        self.last: int | None = None
        self.gaps: list[tuple[int, int]] = []  # inclusive ranges, oldest first

    def take(self, version: int) -> bool:
        """Record a frame's version; False if it was taken already."""
        if self.last is None or version > self.last:
            if self.last is not None and version > self.last + 1:
                self.gaps.append((self.last + 1, version - 1))
                del self.gaps[:-MAX_GAPS]
            self.last = version
            return True
        for index, (low, high) in enumerate(self.gaps):
            if low <= version <= high:
                rest = [(low, version - 1), (version + 1, high)]
                self.gaps[index : index + 1] = [(a, b) for a, b in rest if a <= b]
                return True
        return False

    def reset(self, version: int) -> None:
        """A ``sync`` as of ``version``: every earlier change is in it."""
        self.last = version
        self.gaps = []


class ItemState:
    """The state of an item subscription: the item, or ``None`` while it does not exist."""

    def __init__(self) -> None:
        self.state: dict[str, Any] | None = None
        self.last_timestamp = 0
        self.versions = Versions()

    def apply(self, message: StreamMessage) -> Change | None:
        """Take one frame routed to this subscription; ``None`` when it changes nothing."""
        if message.kind == "unauthorized":
            return Change("unauthorized", None, False)
        if message.kind == "error":
            return None
        if not _take_version(self.versions, message):
            return None
        synced = message.version if message.kind == "sync" else None
        if message.timestamp <= self.last_timestamp:
            if synced is not None:  # the item is as fresh as the sync: so as of its version
                self.versions.take(synced)
            return None
        self.last_timestamp = message.timestamp
        if synced is not None:
            self.versions.reset(synced)
        if message.kind in ("sync", "create", "update"):
            self.state = message.data
            return Change(cast(ChangeKind, message.kind), message.data, True)
        if message.kind == "delete":
            self.state = None
            return Change("delete", message.data, True)
        if message.kind == "event":
            return Change("event", message.event, False)
        return None


class GroupState:
    """The state of a group subscription: its items, in the order the server gave them."""

    def __init__(self) -> None:
        self.state: list[dict[str, Any]] = []
        self.last_timestamp = 0
        self.item_timestamps: dict[Any, int] = {}
        self.versions = Versions()
        # A sync coming in pages: the group as assembled so far, and the pages taken.
        self.pending: GroupState | None = None
        self.pending_pages = 0

    def apply(self, message: StreamMessage) -> Change | None:
        """Take one frame routed to this subscription; ``None`` when it changes nothing.

        A new list is made on every change, so a list returned earlier never changes.
        """
        kind = message.kind
        if kind in ("syncPage", "synced"):
            return self._take_page(message)
        if self.pending is not None and kind in ("create", "update", "delete"):
            self.pending.apply(message)  # a change made while the pages were read
            return None
        if not _take_version(self.versions, message):
            return None
        if kind == "sync":
            self.pending = None  # a sync in one frame stands for any sync in pages
            if message.timestamp < self.last_timestamp:
                return None
            if message.version is not None:
                self.versions.reset(message.version)
            self.item_timestamps = {}
            self.last_timestamp = message.timestamp
            self.state = list(message.data) if isinstance(message.data, list) else []
            return Change("sync", self.state, True)
        if kind == "create":
            item_id = _item_id(message.data)
            if any(_item_id(item) == item_id for item in self.state):
                return None
            self.state = [*self.state, message.data]
            return Change("create", message.data, True)
        if kind == "update":
            item_id = _item_id(message.data)
            current = self.item_timestamps.get(item_id)
            if current and current >= message.timestamp:
                return None
            self.last_timestamp = message.timestamp
            self.item_timestamps[item_id] = message.timestamp
            # As Motia's client: an update of an id not in the list leaves the items as they
            # are, but still counts as a change.
            self.state = [
                message.data if _item_id(item) == item_id else item for item in self.state
            ]
            return Change("update", message.data, True)
        if kind == "delete":
            item_id = _item_id(message.data)
            self.last_timestamp = message.timestamp
            self.item_timestamps[item_id] = message.timestamp
            self.state = [item for item in self.state if _item_id(item) != item_id]
            return Change("delete", message.data, True)
        if kind == "event":
            return Change("event", message.event, False)
        if kind == "unauthorized" and message.id is None:
            # (an item's refusal reaches the group's room too, but is not about the group)
            return Change("unauthorized", None, False)
        return None

    def _take_page(self, message: StreamMessage) -> Change | None:
        """A frame of a sync in pages: a page goes to the assembly; ``synced`` makes the
        assembly the state, when no page is missing."""
        pending = self.pending
        if message.kind == "syncPage":
            if message.page == 0:
                pending = self.pending = GroupState()
                self.pending_pages = 0
            if pending is None or message.page != self.pending_pages:
                self.pending = None  # a page missing: this sync cannot be whole
                return None
            pending.state.extend(_items(message.data))  # (not shown until synced)
            pending.last_timestamp = max(pending.last_timestamp, message.timestamp)
            self.pending_pages += 1
            return None
        self.pending = None
        if pending is None or message.page != self.pending_pages:
            return None
        if message.version is not None:
            self.versions.reset(message.version)
        self.state = pending.state
        self.item_timestamps = pending.item_timestamps
        self.last_timestamp = max(pending.last_timestamp, message.timestamp)
        return Change("sync", self.state, True)


def _items(data: Any) -> list[dict[str, Any]]:
    return list(data) if isinstance(data, list) else []


def _take_version(versions: Versions, message: StreamMessage) -> bool:
    """Record the version of a frame that carries one; False for a frame to drop: one already
    taken, or the end of a replay (which only moves the version on)."""
    if message.kind == "replayed":
        if message.version is not None:
            versions.take(message.version)  # any frame of its own up to there came before it
        return False
    if message.version is None or message.kind == "sync":
        return True
    return versions.take(message.version)
