"""The answers to joins, read a part at a time (the rules are :mod:`streams.sockets.paging`).

A join is answered with the frames its subscription missed since the version it gives, from
the replay log (:mod:`streams.storage.replay`), or with a ``sync``: the group's items (or the item).
A group larger than a page (``STREAMS_SYNC_PAGE_BYTES``) goes to a client that takes paged
syncs (``syncPages``) in ``syncPage`` frames; to one that does not, in one frame up to
``STREAMS_MAX_SYNC_BYTES`` (:class:`GroupTooLarge` past it, never a part that looks whole). A
replay is read a page at a time too. Each part is one statement, which reads the group's state
with its rows: its frames are as of one version of the group.

:func:`join_answer` reads the first part (shared by every join waiting for the same,
:mod:`streams.sockets.snapshots`), :func:`answer_part` each next one, as the socket takes the
frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..conf import engine_settings
from ..storage import ItemsPage, group_timestamp, read_items_page, read_log_page, replay, snapshot
from .paging import ALL_ROWS, FIRST_LIMIT, next_limit
from .protocol import Subscription, sync_frame, sync_page_frame


class GroupTooLarge(Exception):
    """A group larger than ``STREAMS_MAX_SYNC_BYTES``, joined by a client that takes no paged
    syncs: it can have neither the whole group in one frame nor a part of it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"the group is larger than {limit} bytes: join it with a client that takes "
            "paged syncs ('syncPages')"
        )


@dataclass(frozen=True, slots=True)
class SyncFrom:
    """A group's paged sync goes on with the items after row ``after``, in page ``page``."""

    after: int
    page: int
    limit: int


@dataclass(frozen=True, slots=True)
class ReplayFrom:
    """A replay goes on with the log after version ``after``."""

    after: int
    limit: int


@dataclass(frozen=True, slots=True)
class AnswerPart:
    """Part of a join's answer, read in one statement: its frames; the version and the
    group's timestamp they bring the subscription to (a page's: as the page was read); what
    is left to read (None: this part ends it). ``kind``: ``sync`` (one frame), ``page`` (of
    a paged sync; ``pages`` sent with this one) or ``replay``."""

    kind: Literal["sync", "page", "replay"]
    frames: list[str]
    version: int
    timestamp: int
    rest: SyncFrom | ReplayFrom | None = None
    pages: int = 0


def join_answer(subscription: Subscription, since: int | None, paged: bool) -> AnswerPart:
    """The first part of a join's answer: with ``since`` (the last version the client took)
    and a log that still reaches back to it, the frames missed since; otherwise a ``sync``,
    in pages when the client takes them (``paged``) and the group is larger than a page.
    Raises :class:`GroupTooLarge` for a group too large for a client that does not."""
    if since is not None and replay.log_size() > 0:
        part = _replay_part(subscription, ReplayFrom(since, FIRST_LIMIT))
        if part is not None:
            return part
    return _sync_part(subscription, paged)


def answer_part(subscription: Subscription, rest: SyncFrom | ReplayFrom, paged: bool) -> AnswerPart:
    """The next part of a join's answer, from where the last one left it (a replay whose log
    was pruned meanwhile turns into a ``sync``)."""
    if isinstance(rest, SyncFrom):
        return _sync_page(subscription, rest)
    return _replay_part(subscription, rest) or _sync_part(subscription, paged)


def tail_part(
    subscription: Subscription, after: int, limit: int = FIRST_LIMIT
) -> AnswerPart | None:
    """A part of the changes after version ``after`` that follow an answer already sent,
    from the log; None when the log no longer reaches back to them."""
    return _replay_part(subscription, ReplayFrom(after, limit))


def _replay_part(subscription: Subscription, rest: ReplayFrom) -> AnswerPart | None:
    key = _key(subscription)
    budget = engine_settings.STREAMS_SYNC_PAGE_BYTES
    log = read_log_page(*key, rest.after, subscription.id, rest.limit, budget)
    if log.timestamp is None:
        return None  # no such group (any more): a sync
    page = replay.replay_page(
        rest.after, log.version, log.entries, subscription.id, replay.log_size()
    )
    if page is None:
        return None
    following = None
    if not page.caught_up:
        cut = len(log.entries) < log.considered
        limit = next_limit(rest.limit, len(log.entries), cut)
        following = ReplayFrom(page.reached, limit)
    return AnswerPart(
        "replay", page.frames, page.reached, group_timestamp(log.timestamp), following
    )


def _sync_part(subscription: Subscription, paged: bool) -> AnswerPart:
    if subscription.id is not None:
        timestamp, version, item = snapshot(
            subscription.stream_name, subscription.group_id, subscription.id
        )
        return AnswerPart(
            "sync", [sync_frame(subscription, timestamp, item, version)], version, timestamp
        )
    key = _key(subscription)
    if not paged:
        limit = engine_settings.STREAMS_MAX_SYNC_BYTES
        whole = read_items_page(*key, 0, ALL_ROWS, limit)
        if whole.cut or whole.bytes > limit:
            raise GroupTooLarge(limit)
        return _whole_sync(subscription, whole)
    page = read_items_page(*key, 0, FIRST_LIMIT, engine_settings.STREAMS_SYNC_PAGE_BYTES)
    if not page.cut and page.considered < FIRST_LIMIT:
        return _whole_sync(subscription, page)
    return _page_part(subscription, page, SyncFrom(0, 0, FIRST_LIMIT))


def _sync_page(subscription: Subscription, rest: SyncFrom) -> AnswerPart:
    key = _key(subscription)
    page = read_items_page(*key, rest.after, rest.limit, engine_settings.STREAMS_SYNC_PAGE_BYTES)
    return _page_part(subscription, page, rest)


def _whole_sync(subscription: Subscription, page: ItemsPage) -> AnswerPart:
    timestamp = group_timestamp(page.timestamp)
    items = [item for _, item in page.items]
    frame = sync_frame(subscription, timestamp, items, page.version)
    return AnswerPart("sync", [frame], page.version, timestamp)


def _page_part(subscription: Subscription, page: ItemsPage, rest: SyncFrom) -> AnswerPart:
    """A page of a paged sync; an empty page after the first sends nothing."""
    timestamp = group_timestamp(page.timestamp)
    frames, pages = [], rest.page
    if page.items or rest.page == 0:
        items = [item for _, item in page.items]
        frames.append(sync_page_frame(subscription, timestamp, items, page.version, rest.page))
        pages += 1
    following = None
    if page.cut or page.considered >= rest.limit:
        after = page.items[-1][0] if page.items else rest.after
        following = SyncFrom(after, pages, next_limit(rest.limit, len(page.items), page.cut))
    return AnswerPart("page", frames, page.version, timestamp, following, pages)


def _key(subscription: Subscription) -> tuple[str, str]:
    return (subscription.stream_name, subscription.group_id)
