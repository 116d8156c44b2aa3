"""Step runs: the one place where a run of any kind (http, queue, stream, cron) is traced and
recorded.

:func:`step_run` wraps one call of a handler: it makes the :class:`Run` record (whose ``logs``
collect what the handler logs through ``ctx.logger``) and binds the trace id, so that stream
changes the handler makes, and the steps they trigger, carry it on. The caller ends the run with
:meth:`Run.finish`.

Records are written by the process's :class:`RunRecorder`, in batches on a database thread and
off the handler's path: a run that ends within :data:`RUNNING_VISIBLE_AFTER` seconds costs one
row in a bulk insert; a longer one is written as ``running`` first (the dashboard shows it, and
a worker that dies leaves it behind, to be closed as "worker lost" when its message is
redelivered) and updated when it ends. A flush that fails writes nothing and keeps its records
for the next one (at most :data:`MAX_KEPT`), so runs made while the database was away are
recorded when it is back.

The same batches carry what a trace records besides its runs (stream changes, enqueues, socket
counts: :mod:`steps.records.traces`), from the :class:`~steps.records.pending.PendingRows` tables
added with
:meth:`RunRecorder.add_table`: one transaction a batch for all of them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from django.db import transaction
from django.utils import timezone

from streams.publishing import current_trace_id
from streams.runtime import Outage, db, lifecycle

from ..models import StepRun
from .pending import PendingRows, insert
from .storable import storable_json, storable_text

logger = logging.getLogger("steps.runs")

# How often pending records are written.
FLUSH_SECONDS = 0.1
# While the database fails, flushes back off up to this many seconds between attempts: each
# failing one holds a database thread for the pool's timeout, which handlers need.
FAILING_FLUSH_SECONDS = 5.0
# A run still going after this long is written as running before it ends.
RUNNING_VISIBLE_AFTER = 0.25
# Records kept while the database cannot take them.
MAX_KEPT = 100_000


@dataclass(eq=False)
class Run:
    """One run of a step's handler, as it will be recorded (see :class:`StepRun`)."""

    step_name: str
    kind: str
    trace_id: str
    task_id: str = ""
    worker: str = ""
    attempt: int = 0
    # The message was handed over again after its worker died: close that worker's attempt.
    redelivered: bool = False
    logs: list[dict[str, Any]] = field(default_factory=list)
    # What started it (see StepRun.detail); an http run adds its status as it ends.
    detail: dict[str, Any] = field(default_factory=dict)
    started_at: datetime = field(default_factory=timezone.now)
    status: str = StepRun.Status.RUNNING
    error: str = ""
    finished_at: datetime | None = None
    # Set by the recorder: the row's id once written, and whether it ended since.
    pk: int | None = field(default=None, repr=False)
    _started: float = field(default_factory=time.monotonic, repr=False)
    _writing: bool = field(default=False, repr=False)
    _ended_while_writing: bool = field(default=False, repr=False)

    def finish(self, status: str, error: BaseException | str | None = None) -> None:
        """End the run with ``status`` (a :class:`StepRun.Status`) and the error, if any."""
        if isinstance(error, BaseException):
            error = f"{type(error).__name__}: {error}"
        recorder.finished(self, status, error or "")

    def row(self) -> StepRun:
        return StepRun(
            step_name=self.step_name,
            kind=self.kind,
            trace_id=self.trace_id,
            task_id=self.task_id,
            worker=self.worker,
            attempt=self.attempt,
            status=self.status,
            error=storable_text(self.error),
            logs=storable_json(list(self.logs)),
            detail=storable_json(dict(self.detail)),
            started_at=self.started_at,
            finished_at=self.finished_at,
        )


@contextlib.contextmanager
def step_run(step_name: str, kind: str, trace_id: str, **details: Any) -> Iterator[Run]:
    """Record one run of ``step_name`` and bind its trace id while the handler runs; a run
    left by an exception before :meth:`Run.finish` ends as failed."""
    run = Run(step_name=step_name, kind=kind, trace_id=trace_id, **details)
    recorder.started(run)
    token = current_trace_id.set(trace_id)
    try:
        yield run
    except BaseException as error:  # cancellation too: a client that went away
        if run.finished_at is None:
            run.finish(StepRun.Status.FAILED, error)
        raise
    finally:
        current_trace_id.reset(token)


class RunRecorder:
    """Collects the runs of this process and writes them in batches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Run] = []  # not written yet, running or ended
        self._ended: list[Run] = []  # written as running, ended since
        self._wake = threading.Event()
        self._flushing = threading.Lock()  # one flush at a time
        self._tables: list[PendingRows] = []
        # The writing thread, a service of streams.runtime.lifecycle: started by the first record.
        self.service = lifecycle.register(
            "step-runs",
            lifecycle.Stage.RECORD,
            lambda: lifecycle.LoopThread(self._loop, "step-runs"),
            self._stop,
            alive=lifecycle.LoopThread.is_alive,
        )

    def add_table(self, rows: PendingRows) -> None:
        """Write ``rows`` with every batch of runs, in the same transaction."""
        rows.on_first(self.wake)
        self._tables.append(rows)

    def wake(self) -> None:
        """Make sure the writing thread runs (it writes what waits within FLUSH_SECONDS)."""
        with self._lock:
            self._ensure_thread()

    def started(self, run: Run) -> None:
        with self._lock:
            self._pending.append(run)
            self._ensure_thread()

    def finished(self, run: Run, status: str, error: str) -> None:
        with self._lock:
            run.status, run.error, run.finished_at = status, error, timezone.now()
            if run.pk is not None:
                self._ended.append(run)
            elif run._writing:
                run._ended_while_writing = True

    def _ensure_thread(self) -> None:
        self.service.ensure()

    def _stop(self, writer: lifecycle.LoopThread) -> None:
        """End the thread, then write every record left, on a database thread."""
        writer.stop(wake=self._wake.set)
        try:
            db.call(self.flush, True).result()
        except Exception:
            logger.warning("step runs of this process could not be recorded", exc_info=True)

    def _loop(self, stopping: threading.Event) -> None:
        outage = Outage(FLUSH_SECONDS, FAILING_FLUSH_SECONDS)
        while True:
            self._wake.wait(outage.pause)
            self._wake.clear()
            if stopping.is_set():
                return
            if not self._has_work():
                continue
            try:
                db.call(self.flush).result()
            except Exception:
                if outage.failed():  # once per outage, not ten times a second
                    logger.exception("could not record step runs; keeping them for later")
                self._drop_beyond_limit()
            else:
                if outage.succeeded():
                    logger.warning("step runs recorded again")

    def _drop_beyond_limit(self) -> None:
        """While the database is away, keep at most MAX_KEPT records (the newest)."""
        with self._lock:
            excess = len(self._pending) - MAX_KEPT
            if excess > 0:
                del self._pending[:excess]
                logger.warning("%d step runs could not be recorded and are dropped", excess)

    def _has_work(self) -> bool:
        with self._lock:
            return bool(self._pending or self._ended) or any(self._tables)

    def flush(self, everything: bool = False) -> None:
        """Write what is due (``everything``: every pending run, running or not)."""
        with self._flushing:
            self._flush(everything)

    def discard(self) -> None:
        """Forget every run not written yet, once a flush under way is done (tests)."""
        with self._flushing, self._lock:
            self._pending.clear()
            self._ended.clear()
            for table in self._tables:
                table.clear()

    def _flush(self, everything: bool) -> None:
        due_before = time.monotonic() - RUNNING_VISIBLE_AFTER
        with self._lock:
            batch = [
                run
                for run in self._pending
                if everything or run.finished_at is not None or run._started <= due_before
            ]
            taken = {id(run) for run in batch}
            self._pending = [run for run in self._pending if id(run) not in taken]
            ended, self._ended = self._ended, []
            # What each run is now: later changes go through ``ended``.
            finished = [_column_values(run) for run in batch if run.finished_at is not None]
            running = [run for run in batch if run.finished_at is None]
            for run in running:
                run._writing = True
            running_rows = [run.row() for run in running]
        tables = [(table, table.take()) for table in self._tables]
        if not batch and not ended and not any(rows for _, rows in tables):
            return
        try:
            with transaction.atomic():
                self._write(batch, finished, running_rows, ended)
                for table, rows in tables:
                    table.write(rows)
        except Exception:
            # Nothing was written: keep every record for the next flush (the database may be
            # away for a while; the runs are recorded when it is back).
            with self._lock:
                for run in running:
                    run._writing = run._ended_while_writing = False
                self._pending = batch + self._pending
                self._ended = ended + self._ended
            for table, rows in tables:
                table.put_back(rows)
            raise
        with self._lock:
            for run, row in zip(running, running_rows, strict=True):
                run.pk, run._writing = row.pk, False
                if run._ended_while_writing:
                    self._ended.append(run)  # ended while being written: updated next time

    @staticmethod
    def _write(
        batch: list[Run], finished: list[tuple[Any, ...]], running: list[StepRun], ended: list[Run]
    ) -> None:
        lost = sorted({run.task_id for run in batch if run.redelivered and run.task_id})
        if lost:
            StepRun.objects.filter(task_id__in=lost, status=StepRun.Status.RUNNING).update(
                status=StepRun.Status.FAILED, error="worker lost", finished_at=timezone.now()
            )
        if finished:
            insert(StepRun, _COLUMNS, finished)
        if running:
            StepRun.objects.bulk_create(running)  # their ids are needed for the update
        for run in ended:  # each written as running: its pk is set
            StepRun.objects.filter(pk=cast(int, run.pk)).update(
                status=run.status,
                error=run.error,
                logs=storable_json(list(run.logs)),
                detail=storable_json(dict(run.detail)),
                finished_at=run.finished_at,
            )


_COLUMNS = (
    "step_name",
    "kind",
    "trace_id",
    "task_id",
    "worker",
    "attempt",
    "status",
    "error",
    "logs",
    "detail",
    "started_at",
    "finished_at",
)


def _column_values(run: Run) -> tuple[Any, ...]:
    return tuple(_storable_column(name, getattr(run, name)) for name in _COLUMNS)


def _storable_column(name: str, value: Any) -> Any:
    if name == "logs":
        return storable_json(list(value))
    if name == "detail":
        return storable_json(dict(value))
    return storable_text(value) if isinstance(value, str) else value


recorder = RunRecorder()


def flush_runs() -> None:
    """Write every run recorded so far, on this thread (tests; a stop of the engine writes
    them on a database thread)."""
    recorder.flush(everything=True)
