"""Recovery without a full re-sync: the replay log, and whether a re-join can use it.

Every group has a version, bumped by each change and custom event under the group's row lock
(:mod:`streams.storage.changes`), so all server processes agree on it; every frame carries it. Our
clients re-join with the last version they took (``sinceVersion``); the server answers with the
frames they missed, each as it was sent, followed by a ``replayed`` frame, or with a ``sync``
when it cannot.

Where the log lives: a database table (:class:`~streams.models.StreamLogEntry`), one row per
frame, written in the same transaction as the change it records, by the same write path
(:mod:`streams.storage.store`): a multi-row insert per batch (of up to 150 frames), not a round trip
per change. Why there:

- any server process reads it (a client re-joins wherever the load balancer sends it), in
  embedded mode and with Redis alike: one mechanism, not a Redis list plus an in-memory one;
- it commits or rolls back with the change, so it never holds a change that did not happen
  nor misses one that did (a Redis list written after the commit would lose the frames of a
  process that dies in between, and a client replayed from it would silently miss them);
- a group's versions in it are contiguous, so whether it still reaches back to a client's
  version is a question about the versions read, answered by :func:`replay_page`.

Rows are keyed by the group's names, not by its row: a group deleted (in the admin) and made
again continues its versions from its log, so a version a client kept never names a change
of the group's earlier life.

It is bounded per group: a batch that takes a group past a multiple of
:func:`prune_step` deletes the rows more than :func:`log_size` versions old
(``STREAMS_REPLAY_LOG_SIZE``, 1000 by default; 0 keeps no log, and every re-join gets a
``sync``). Frames are stored whole, so a group of large items costs up to that many of them;
a replay reads them a page at a time as the socket takes them (:mod:`streams.sockets.answers`).
"""

from collections.abc import Sequence
from typing import NamedTuple

from ..conf import engine_settings


class LogEntry(NamedTuple):
    """One frame of the log: the group version it took, the item it is about (None for a
    custom event to the whole group) and the frame as sent (None when the frame was not
    read: another item's, or one left for the next page)."""

    version: int
    item_id: str | None
    frame: str | None


class ReplayPage(NamedTuple):
    """What a page of the log gives a replay: the frames to send, in order, the version they
    bring the subscription to, and whether that is the group's version as the page was read
    (the replay has caught up)."""

    frames: list[str]
    reached: int
    caught_up: bool


def log_size() -> int:
    """How many of its most recent frames each group keeps for replays."""
    return engine_settings.STREAMS_REPLAY_LOG_SIZE


def prune_step(size: int) -> int:
    """Prune a group's log when its version crosses a multiple of this: a group holds at most
    ``size + prune_step(size)`` rows, and pruning costs one statement per that many changes."""
    return max(1, size // 8)


def prune_below(size: int, before: int, after: int) -> int | None:
    """The version at and below which a group's rows go, after a batch took it from version
    ``before`` to ``after``; None when this batch prunes nothing."""
    step = prune_step(size)
    if size <= 0 or after <= size or before // step == after // step:
        return None
    return after - size


def replay_page(
    after: int,
    current: int,
    entries: Sequence[LogEntry],
    item_id: str | None,
    size: int,
) -> ReplayPage | None:
    """The frames a subscription missed after version ``after`` that a page of the log holds,
    or None when the log cannot tell them all and the subscription needs a ``sync``.

    ``current`` is the group's version and ``entries`` the log rows after ``after`` of the
    page, in version order, read together. Every version is logged in its change's
    transaction, so the log has them all unless pruned: it still reaches back when the page
    starts at ``after + 1`` without a hole (or there is nothing after ``after``). An item
    subscription (``item_id``) gets only its item's frames; the check is on the whole
    group's rows, which say what was pruned.
    """
    if size <= 0 or after > current:  # no log, or a version this group never had
        return None
    if current == after:
        return ReplayPage([], after, True)
    if not entries or entries[0].version != after + 1:
        return None
    if entries[-1].version - after != len(entries):  # a hole (each version is logged)
        return None
    frames = [
        entry.frame
        for entry in entries
        if entry.frame is not None and (item_id is None or entry.item_id == item_id)
    ]
    reached = entries[-1].version
    return ReplayPage(frames, reached, reached == current)
