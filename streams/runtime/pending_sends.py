"""Waiting for work handed to a background thread: a count of what was handed over and of
what has been attempted since, and waiters for a point in that count.

A process hands what must leave it (stream events for the channel layer, step runs for the
broker) to threads of their own, so that writers never wait on the network; but a caller that
is about to tell someone "done" (an http answer, a task's acknowledgement) first waits until
what it caused has been attempted, so that a process killed after the answer loses none of it.
"""

import asyncio
import contextlib
import threading


class Handoff:
    """Counts of items handed over and attempted; callers wait for everything handed over
    before they asked to be attempted (sent, or failed once and kept for a retry)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._handed = 0
        self._attempted = 0
        # Event loops' futures waiting for a count of attempted items.
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def handed(self, count: int = 1) -> None:
        with self._condition:
            self._handed += count

    def attempted(self, count: int) -> None:
        with self._condition:
            self._attempted += count
            self._condition.notify_all()
            ready = [w for w in self._waiters if w[0] <= self._attempted]
            self._waiters = [w for w in self._waiters if w[0] > self._attempted]
        for _, loop, future in ready:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_resolve, future)

    def wait(self, timeout: float) -> bool:
        """Block until everything handed over so far was attempted; False on timeout."""
        with self._condition:
            target = self._handed
            return self._condition.wait_for(lambda: self._attempted >= target, timeout)

    async def reached(self) -> None:
        """Wait, without blocking the event loop, until everything handed over so far was
        attempted (at once when nothing is outstanding)."""
        with self._condition:
            if self._attempted >= self._handed:
                return
            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((self._handed, loop, future))
        await future


def _resolve(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)
