"""The WebSocket wire protocol of Motia's stream clients, as pure functions.

Client frames are ``join`` and ``leave``; every server frame is a ``stream`` frame whose
``event`` says what happened (docs/protocol.md). Frames are encoded with orjson,
once per event.

On top of Motia's protocol, and ignored by its clients: change, custom event and ``sync``
frames carry the group's ``version``; a ``join`` may carry ``sinceVersion``, the last version
the client took, which the server answers with the frames missed since, then a ``replayed``
frame (or with a ``sync`` when its log no longer reaches back; :mod:`streams.storage.replay`); and
``syncPages: true``, from a client that assembles a large group's sync sent in ``syncPage``
frames, ended by a ``synced`` frame (:mod:`streams.sockets.answers`).
"""

import sys
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from ..definitions import key_problem

# The largest version a group can reach (a 64-bit column); a larger sinceVersion is refused
# before the database sees it.
MAX_VERSION = 2**63 - 1


class ProtocolError(ValueError):
    """A client frame that is not valid; answered with an ``error`` frame."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Subscription:
    """One join: a group (``id`` is None) or one item of a group."""

    stream_name: str
    group_id: str
    id: str | None
    subscription_id: str | None = None

    @property
    def is_group(self) -> bool:
        return self.id is None


@dataclass(frozen=True, slots=True)
class ClientFrame:
    """A parsed ``join`` or ``leave``; ``since_version`` and ``sync_pages`` are a join's
    ``sinceVersion`` and ``syncPages``, not part of the subscription (a leave names the
    subscription without them)."""

    type: Literal["join", "leave"]
    subscription: Subscription
    since_version: int | None = None
    sync_pages: bool = False


def _required_string(data: dict[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or value == "":
        raise ProtocolError("invalid_frame", f"'data.{field}' must be a non-empty string")
    return value


def _check_key(value: str, field: str) -> None:
    """Refuse a group or item id the store could not hold: no item has one, and the database
    may refuse it in a query (PostgreSQL and NUL)."""
    problem = key_problem(value)
    if problem is not None:
        raise ProtocolError("invalid_frame", f"'data.{field}' {problem}")


def parse_client_frame(text: str | bytes) -> ClientFrame:
    """Parse and check a client frame; raise :class:`ProtocolError` with a reason if invalid."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ProtocolError("invalid_json", "frame is not valid JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError("invalid_frame", "frame must be a JSON object")
    kind = message.get("type")
    if kind not in ("join", "leave"):
        raise ProtocolError("unknown_type", f"unknown frame type {kind!r}; expected join or leave")
    data = message.get("data")
    if not isinstance(data, dict):
        raise ProtocolError("invalid_frame", "'data' must be an object")
    item_id = data.get("id")
    if item_id is not None and (not isinstance(item_id, str) or item_id == ""):
        raise ProtocolError("invalid_frame", "'data.id' must be a non-empty string or null")
    subscription_id = data.get("subscriptionId")
    if subscription_id is not None and not isinstance(subscription_id, str):
        raise ProtocolError("invalid_frame", "'data.subscriptionId' must be a string")
    since = data.get("sinceVersion")
    if since is not None and (
        not isinstance(since, int) or isinstance(since, bool) or not 0 <= since <= MAX_VERSION
    ):
        raise ProtocolError("invalid_frame", "'data.sinceVersion' must be a version (an integer)")
    sync_pages = data.get("syncPages", False)
    if not isinstance(sync_pages, bool):
        raise ProtocolError("invalid_frame", "'data.syncPages' must be true or false")
    stream_name = _required_string(data, "streamName")
    group_id = _required_string(data, "groupId")
    _check_key(group_id, "groupId")
    if item_id is not None:
        _check_key(item_id, "id")
    subscription = Subscription(
        # The sockets of a group, thousands of them at times, share one string of each name
        # for as long as they are joined, instead of each keeping its own.
        stream_name=sys.intern(stream_name),
        group_id=sys.intern(group_id),
        id=item_id,
        subscription_id=subscription_id,
    )
    return ClientFrame(kind, subscription, since, sync_pages)


def encode(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


def stream_frame(
    stream_name: str | None,
    group_id: str | None,
    item_id: str | None,
    timestamp: int,
    event: dict[str, Any],
    version: int | None = None,
) -> str:
    """Encode one server frame; ``version`` (the group's, when the frame has one) comes
    before ``event``, so that the event's type stays the first ``"event":{"type":`` of the
    text (:func:`streams.sockets.outbox.event_type`)."""
    frame: dict[str, Any] = {
        "type": "stream",
        "timestamp": timestamp,
        "streamName": stream_name,
        "groupId": group_id,
        "id": item_id,
    }
    if version is not None:
        frame["version"] = version
    frame["event"] = event
    return encode(frame)


def answer_frame(
    subscription: Subscription, timestamp: int, event: dict[str, Any], version: int | None = None
) -> str:
    """A frame that answers a join of ``subscription`` (its stream, group and item)."""
    return stream_frame(
        subscription.stream_name,
        subscription.group_id,
        subscription.id,
        timestamp,
        event,
        version,
    )


def sync_frame(subscription: Subscription, timestamp: int, data: Any, version: int) -> str:
    """The reply to an accepted join: the group's items, or the item (or None), as of the
    group's ``version``."""
    return answer_frame(subscription, timestamp, {"type": "sync", "data": data}, version)


def sync_page_frame(
    subscription: Subscription, timestamp: int, items: list[Any], version: int, page: int
) -> str:
    """Page ``page`` (from 0) of a group's sync sent in pages: some of its items, in order,
    as read at the group's ``version``."""
    event = {"type": "syncPage", "page": page, "data": items}
    return answer_frame(subscription, timestamp, event, version)


def synced_frame(subscription: Subscription, timestamp: int, version: int, pages: int) -> str:
    """The end of a sync sent in ``pages`` pages and the changes that followed them: the
    subscription is at the group's ``version``."""
    return answer_frame(subscription, timestamp, {"type": "synced", "pages": pages}, version)


def replayed_frame(subscription: Subscription, timestamp: int, version: int) -> str:
    """The end of a replay: the frames sent before it brought the subscription to the group's
    ``version``."""
    return answer_frame(subscription, timestamp, {"type": "replayed"}, version)


def unauthorized_frame(subscription: Subscription, timestamp: int) -> str:
    return answer_frame(subscription, timestamp, {"type": "unauthorized"})


def error_frame(
    code: str, message: str, timestamp: int, subscription: Subscription | None = None
) -> str:
    """An ``error`` frame. Its ``id`` is always null: Motia's item subscriptions would otherwise
    take its timestamp as seen and drop a later real frame with the same timestamp."""
    return stream_frame(
        subscription.stream_name if subscription else None,
        subscription.group_id if subscription else None,
        None,
        timestamp,
        {"type": "error", "data": {"code": code, "message": message}},
    )
