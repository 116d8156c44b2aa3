"""Step runs leave for Celery from one thread of the process, in batches.

A commit that asks for step runs (stream triggers of its changes, messages it enqueued) must
not wait on the broker: its runs are handed to this thread, which sends them in the order they
came. Stream-triggered runs of one step that wait together leave as one ``run_step_batch``
message: under load a Celery message, and the worker's handling of it, costs more than a run
of a small handler, and batching divides that cost by the batch size.

Runs still waiting here when the process exits are sent by an ``atexit`` hook; a process that
is killed loses them, as it would lose a send it was in the middle of.
"""

from __future__ import annotations

import atexit
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

    def send(self, run: OutgoingRun) -> None:
        self._queue.put(run)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="step-sender", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        """Send whatever waits, on the calling thread (process exit, tests)."""
        while runs := self._take(block=False):
            send_runs(runs)

    def _loop(self) -> None:
        while True:
            try:
                send_runs(self._take(block=True))
            except Exception:
                logger.exception("could not send step runs to the broker")

    def _take(self, *, block: bool) -> list[OutgoingRun]:
        runs: list[OutgoingRun] = []
        try:
            runs.append(self._queue.get(block=block))
            while len(runs) < MAX_BATCH:
                runs.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return runs


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
