"""Step runs leave for Celery from one thread of the process, in batches.

A commit that asks for step runs (stream triggers of its changes, messages it enqueued) must
not wait on the broker: its runs are handed to this thread, which sends them in the order they
came. Stream-triggered runs of one step that wait together leave as one ``run_step_batch``
message: under load a Celery message, and the worker's handling of it, costs more than a run
of a small handler, and batching divides that cost by the batch size.

Runs still waiting here when the process exits are sent by an ``atexit`` hook. Nothing is
acknowledged before the runs it caused have left: a worker's task waits for them before Celery
acknowledges its message (:meth:`Sender.wait_sent`), an http step before it answers
(:meth:`Sender.sent`), so a process killed meanwhile loses no run that anyone was told about.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("steps.sending")

MAX_BATCH = 64


@dataclass(frozen=True)
class OutgoingRun:
    """One run to send: ``batchable`` runs of the same step may share a message."""

    step_name: str
    payload: dict[str, Any]
    trace_id: str
    countdown: float = 0
    batchable: bool = False


class Sender:
    """The process's sending thread."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[OutgoingRun] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # Runs handed over so far, and how many of them have left (or failed to).
        self._settled = threading.Condition()
        self._handed_over = 0
        self._done = 0
        # Event loops' futures waiting for a count of runs to be done (see ``sent``).
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def send(self, run: OutgoingRun) -> None:
        with self._settled:
            self._handed_over += 1
        self._queue.put(run)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="step-sender", daemon=True)
                self._thread.start()

    def wait_sent(self, timeout: float) -> bool:
        """Wait until every run handed over before this call has left; False on timeout."""
        with self._settled:
            target = self._handed_over
            return self._settled.wait_for(lambda: self._done >= target, timeout)

    async def sent(self) -> None:
        """Wait, without blocking the event loop, until every run handed over before this
        call has left (at once when none waits)."""
        with self._settled:
            if self._done >= self._handed_over:
                return
            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((self._handed_over, loop, future))
        await future

    def flush(self) -> None:
        """Send whatever waits, on the calling thread (process exit, tests)."""
        while runs := self._take(block=False):
            self._send(runs)

    def _loop(self) -> None:
        while True:
            self._send(self._take(block=True))

    def _send(self, runs: list[OutgoingRun]) -> None:
        try:
            send_runs(runs)
        except Exception:
            logger.exception("could not send step runs to the broker")
        finally:
            with self._settled:
                self._done += len(runs)
                self._settled.notify_all()
                ready = [w for w in self._waiters if w[0] <= self._done]
                self._waiters = [w for w in self._waiters if w[0] > self._done]
            for _, loop, future in ready:
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits
                    loop.call_soon_threadsafe(_resolve, future)

    def _take(self, *, block: bool) -> list[OutgoingRun]:
        runs: list[OutgoingRun] = []
        try:
            runs.append(self._queue.get(block=block))
            while len(runs) < MAX_BATCH:
                runs.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return runs


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def send_runs(runs: list[OutgoingRun]) -> None:
    """Send ``runs``: batchable runs of one step together, the others one message each."""
    from .tasks import run_step, run_step_batch

    batches: dict[str, list[OutgoingRun]] = {}
    for run in runs:
        if run.batchable and not run.countdown:
            batches.setdefault(run.step_name, []).append(run)
            continue
        _send_one(run_step, run)
    for step_name, batch in batches.items():
        if len(batch) == 1:
            _send_one(run_step, batch[0])
            continue
        run_step_batch.apply_async(
            args=(step_name, [[run.payload, run.trace_id] for run in batch]),
            # Celery otherwise writes a repr of the arguments into every message, for its
            # logs: that alone costs as much as the rest of a send.
            argsrepr=f"{step_name} x{len(batch)}",
            kwargsrepr="",
        )


def _send_one(task: Any, run: OutgoingRun) -> None:
    task.apply_async(
        args=(run.step_name, run.payload),
        kwargs={"trace_id": run.trace_id},
        countdown=run.countdown or None,
        argsrepr=run.step_name,
        kwargsrepr="",
    )


sender = Sender()
atexit.register(sender.flush)
