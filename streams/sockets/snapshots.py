"""The answers to joins: one database read serves every join of a group that waits for it.

A join subscribes to its group first, then asks for its answer (a ``sync``, or a replay of the
frames missed since the version it gives; :func:`streams.sockets.answers.join_answer`), or the first
part of it when the group or the replay is larger than a page; the answer must
be read after that, or a change committed in between would be in neither. So a join never
takes a read already under way: it waits for the next one, which starts as soon as the current
one ends and serves every join that asked the same meanwhile. Five thousand clients joining one
group at once (or re-joining from the same version after a restart) cost a few reads, not five
thousand, and the frames are encoded once per read.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from ..runtime import db
from .answers import AnswerPart, join_answer
from .protocol import Subscription

# (stream name, group id, item id, version the join replays from, whether it takes pages)
SnapshotKey = tuple[str, str, str | None, int | None, bool]


class SnapshotReads:
    """The answers to one event loop's joins, read in shared reads."""

    def __init__(self) -> None:
        self._waiting: dict[SnapshotKey, list[asyncio.Future[AnswerPart]]] = {}
        self._reading: set[SnapshotKey] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # a running task must be referenced

    async def answer(
        self, subscription: Subscription, since: int | None = None, paged: bool = False
    ) -> AnswerPart:
        """The (first part of the) answer to a join of ``subscription`` (replaying from
        ``since``, if given; in pages if ``paged``), from a read that starts after this call."""
        key = (subscription.stream_name, subscription.group_id, subscription.id, since, paged)
        future: asyncio.Future[AnswerPart] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if key not in self._reading:
            self._reading.add(key)
            task = asyncio.ensure_future(self._read(key, subscription))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _read(self, key: SnapshotKey, subscription: Subscription) -> None:
        try:
            while waiters := self._waiting.pop(key, None):
                try:
                    outcome: Any = await db.run(join_answer, subscription, key[3], key[4])
                except Exception as error:
                    outcome = error
                for waiter in waiters:
                    if waiter.done():
                        continue
                    if isinstance(outcome, Exception):
                        waiter.set_exception(outcome)
                    else:
                        waiter.set_result(outcome)
        finally:
            self._reading.discard(key)


_reads: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SnapshotReads] = (
    weakref.WeakKeyDictionary()
)


def snapshot_reads() -> SnapshotReads:
    """The shared reads of the running event loop."""
    loop = asyncio.get_running_loop()
    reads = _reads.get(loop)
    if reads is None:
        reads = _reads[loop] = SnapshotReads()
    return reads
