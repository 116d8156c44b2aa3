"""Step runs leave for Celery from one thread of the process, in batches.

A commit that asks for step runs (stream triggers of its changes, messages it enqueued) must
not wait on the broker: its runs are handed to this thread, which sends them in the order they
came. Stream-triggered runs of one step that wait together leave as one ``run_step_batch``
message: under load a Celery message, and the worker's handling of it, costs more than a run
of a small handler, and batching divides that cost by the batch size.

Runs still waiting here when the process exits (or the engine stops:
:mod:`streams.runtime.lifecycle`) are sent before the thread ends. Nothing is
acknowledged before the runs it caused have left: a worker's task waits for them before Celery
acknowledges its message (:meth:`Sender.wait_sent`), an http step before it answers
(:meth:`Sender.sent`), so a process killed meanwhile loses no run that anyone was told about.
While the broker refuses messages, the runs wait here (up to ``MAX_KEPT``) and leave, in order,
when it is back; waiters go on after the first attempt.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import current_app
from django.db import transaction

from streams.runtime import Handoff, Outage, lifecycle

from .task_names import RUN_STEP, RUN_STEP_BATCH

logger = logging.getLogger("steps.sending")

MAX_BATCH = 64
# While the broker refuses messages: seconds between attempts (doubling), and runs kept.
RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 10.0
MAX_KEPT = 100_000
# How long a stop waits for the sending thread to send what waits.
STOP_SECONDS = 10.0


@dataclass(frozen=True)
class OutgoingRun:
    """One run to send: ``batchable`` runs of the same step may share a message."""

    step_name: str
    payload: dict[str, Any]
    trace_id: str
    countdown: float = 0
    batchable: bool = False


class Sender:
    """The process's sending thread, a service of :mod:`streams.runtime.lifecycle`
    (``step-sender``): started by the first run to send, stopped once the runs that wait have
    left."""

    def __init__(self) -> None:
        # None: the thread is to stop once it has sent what came before.
        self._queue: queue.SimpleQueue[OutgoingRun | None] = queue.SimpleQueue()
        self.handoff = Handoff()
        self.service = lifecycle.register(
            "step-sender",
            lifecycle.Stage.SEND,
            self._start,
            self._stop,
            alive=threading.Thread.is_alive,
        )

    def send(self, run: OutgoingRun) -> None:
        self.handoff.handed()
        self._queue.put(run)
        self.service.ensure()

    def _start(self) -> threading.Thread:
        thread = threading.Thread(target=self._loop, name="step-sender", daemon=True)
        thread.start()
        return thread

    def _stop(self, thread: threading.Thread) -> None:
        self._queue.put(None)
        thread.join(STOP_SECONDS)
        self.flush()  # what came after, on this thread

    def wait_sent(self, timeout: float) -> bool:
        """Wait until every run handed over before this call has left; False on timeout."""
        return self.handoff.wait(timeout)

    async def sent(self) -> None:
        """Wait, without blocking the event loop, until every run handed over before this
        call has left (at once when none waits)."""
        await self.handoff.reached()

    def flush(self) -> None:
        """Send whatever waits, on the calling thread (a stop, tests)."""
        while True:
            runs, _ = self._take(block=False)
            if not runs:
                return
            unsent = self._send(runs)
            self.handoff.attempted(len(runs))
            if unsent:
                logger.error("%d step runs could not be sent and are dropped", len(unsent))

    def _loop(self) -> None:
        # Runs the broker refused, oldest first: sent again, in order, before newer ones.
        backlog: list[OutgoingRun] = []
        outage = Outage(RETRY_SECONDS, MAX_RETRY_SECONDS)
        while True:
            fresh, stopping = self._take(block=not backlog)
            unsent = self._send(backlog + fresh)
            # Waiters go on after a first attempt: a broker that is down must not hold up
            # answers and acknowledgements, and the runs are kept here until it is back.
            self.handoff.attempted(len(fresh))
            if stopping:
                if unsent:
                    logger.error("%d step runs could not be sent and are dropped", len(unsent))
                return
            if not unsent:
                if outage.succeeded():
                    logger.warning("step runs sent to the broker again")
                backlog = []
                continue
            if outage.failed():
                logger.error("could not send step runs to the broker; keeping them for later")
            if len(unsent) > MAX_KEPT:
                logger.error(
                    "%d step runs could not be sent and are dropped", len(unsent) - MAX_KEPT
                )
            backlog = unsent[-MAX_KEPT:]
            time.sleep(outage.pause)

    def _send(self, runs: list[OutgoingRun]) -> list[OutgoingRun]:
        """Send ``runs``; the ones the broker did not take."""
        try:
            send_runs(runs)
        except SendFailed as failure:
            logger.debug("broker refused step runs", exc_info=failure.__cause__)
            return failure.unsent
        return []

    def _take(self, *, block: bool) -> tuple[list[OutgoingRun], bool]:
        """Up to ``MAX_BATCH`` runs, and whether the thread is to stop after them."""
        runs: list[OutgoingRun] = []
        try:
            run = self._queue.get(block=block)
            while run is not None:
                runs.append(run)
                if len(runs) == MAX_BATCH:
                    break
                run = self._queue.get_nowait()
            else:
                return runs, True
        except queue.Empty:
            pass
        return runs, False


class SendFailed(Exception):
    """The broker refused a message: ``unsent`` are the runs of it and of every later one."""

    def __init__(self, unsent: list[OutgoingRun]) -> None:
        super().__init__(f"{len(unsent)} step runs not sent")
        self.unsent = unsent


def send_runs(runs: list[OutgoingRun]) -> None:
    """Send ``runs``: batchable runs of one step together, the others one message each, in
    order; raises :class:`SendFailed` with the runs not sent when the broker fails."""
    messages = _messages(runs)
    for index, (send, _) in enumerate(messages):
        try:
            send()
        except Exception as error:
            unsent = [run for _, carried in messages[index:] for run in carried]
            raise SendFailed(unsent) from error


def _messages(runs: list[OutgoingRun]) -> list[tuple[Callable[[], Any], list[OutgoingRun]]]:
    """The messages that carry ``runs``: how to send each, and the runs it carries."""
    messages: list[tuple[Callable[[], Any], list[OutgoingRun]]] = []
    batches: dict[str, list[OutgoingRun]] = {}
    for run in runs:
        if run.batchable and not run.countdown:
            batches.setdefault(run.step_name, []).append(run)
        else:
            messages.append((functools.partial(_send_one, run), [run]))
    for step_name, batch in batches.items():
        if len(batch) == 1:
            messages.append((functools.partial(_send_one, batch[0]), batch))
        else:
            messages.append((functools.partial(_send_batch, step_name, batch), batch))
    return messages


# Tasks are sent by name (as beat sends them): this module never imports the tasks, which
# wait for it (:meth:`Sender.wait_sent`).
def _send_batch(step_name: str, batch: list[OutgoingRun]) -> None:
    current_app.send_task(
        RUN_STEP_BATCH,
        args=(step_name, [[run.payload, run.trace_id] for run in batch]),
        # Celery otherwise writes a repr of the arguments into every message, for its logs:
        # that alone costs as much as the rest of a send.
        argsrepr=f"{step_name} x{len(batch)}",
        kwargsrepr="",
    )


def _send_one(run: OutgoingRun) -> None:
    current_app.send_task(
        RUN_STEP,
        args=(run.step_name, run.payload),
        kwargs={"trace_id": run.trace_id},
        countdown=run.countdown or None,
        argsrepr=run.step_name,
        kwargsrepr="",
    )


sender = Sender()


def send_to_step(
    step_name: str,
    payload: dict[str, Any],
    trace_id: str,
    countdown: float = 0,
    *,
    batchable: bool = False,
) -> None:
    """Queue one run of a step once the current transaction commits (at once outside one);
    it leaves for the broker from the sending thread."""
    run = OutgoingRun(step_name, payload, trace_id, countdown, batchable)
    transaction.on_commit(lambda: sender.send(run))
