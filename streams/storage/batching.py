"""Stream changes from async code, committed in batches on the database threads.

While one batch commits, the changes asked meanwhile wait, and then commit together as the
next one (group commit): under load, many changes share one transaction, one lock of their
group and one write of a hot item, and the database thread hands the GIL back and forth once
per batch instead of once per statement of every change. A caller's ``await`` returns once its
change is committed, never before. When a batch fails on a database error, its changes are
committed again one by one, so that only the one at fault fails; when the database itself is
unreachable, they all fail at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import InterfaceError, OperationalError

from ..runtime import db
from .changes import Change, Outcome

logger = logging.getLogger("streams.batching")

MAX_BATCH = 256

Commit = Callable[[Sequence[Change]], list[Outcome]]
Pending = tuple[Change, asyncio.AbstractEventLoop, "asyncio.Future[Outcome]"]


class WriteBatcher:
    """Queues changes and commits them, a batch at a time, with ``commit``."""

    def __init__(self, commit: Commit) -> None:
        self._commit = commit
        self._lock = threading.Lock()
        self._pending: list[Pending] = []
        self._scheduled = False

    async def submit(self, change: Change) -> Outcome:
        """Commit ``change`` with whatever else is waiting; its outcome once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        with self._lock:
            self._pending.append((change, loop, future))
            schedule, self._scheduled = not self._scheduled, True
        if schedule:
            db.call(self._run_batch)
        return await future

    def _run_batch(self) -> None:
        """On a database thread: commit what is waiting, then let other jobs run before the
        next batch (a single SQLite thread also serves reads and hooks)."""
        with self._lock:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        try:
            outcomes = commit_each_on_failure(self._commit, [change for change, _, _ in batch])
        except BaseException as error:  # never leave a caller waiting
            outcomes = [error if isinstance(error, Exception) else RuntimeError(error)] * len(batch)
        _settle(batch, outcomes)
        with self._lock:
            more = bool(self._pending)
            self._scheduled = more
        if more:
            db.call(self._run_batch)


def commit_each_on_failure(commit: Commit, changes: Sequence[Change]) -> list[Outcome]:
    """Commit the batch; if it fails, each change on its own, so that one bad change (a value
    the database refuses) fails alone."""
    try:
        return commit(changes)
    except Exception as error:
        if len(changes) == 1:
            return [error]
        if isinstance(error, OperationalError | InterfaceError):
            # The connection failed, not a change: one by one, each would wait for it again.
            return [error] * len(changes)
        logger.debug("batch of %d changes failed; committing them one by one", len(changes))
        return [commit_each_on_failure(commit, [change])[0] for change in changes]


def _settle(batch: list[Pending], outcomes: list[Outcome]) -> None:
    """Hand each outcome to its waiting caller: one wake-up per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Outcome]]] = {}
    for (_, loop, future), outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(loop, []).append((future, outcome))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_set_results, settled)


def _set_results(settled: list[tuple[asyncio.Future[Outcome], Outcome]]) -> None:
    for future, outcome in settled:
        if not future.cancelled():
            future.set_result(outcome)
