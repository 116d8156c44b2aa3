"""Worker heartbeats: how a server knows that some worker takes its queue.

Every Celery worker of the project (``celery -A motia_site worker`` and the embedded one) runs
:class:`HeartbeatStep`, a consumer bootstep: while the worker consumes, its own timer beats
every ``STEPS_WORKER_HEARTBEAT_INTERVAL`` seconds. The timer is the consumer's (driven by its event
loop on Redis), and it is cancelled when the connection to the broker is lost, so the beats
stop when the worker stops taking tasks, not only when its process dies.

A worker on a real broker writes its beats to the database (:class:`~steps.models.
WorkerHeartbeat`), from a thread of its own so that a slow database never holds up the
consumer; every server reads them there (the database is the one store every process of a
deployment shares; Redis is not there on every topology). The embedded worker serves only the
process it runs in (its broker is in memory), so its beats stay in that process.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import bootsteps
from django.utils import timezone

from streams.runtime import lifecycle

from ..conf import engine_settings

logger = logging.getLogger("steps.heartbeat")

# Rows of workers not seen for this long are deleted (a killed worker leaves its row behind).
FORGET_AFTER = timedelta(days=1)
# Seconds a stopping worker waits for its row to be deleted before it goes on stopping.
SHUTDOWN_WAIT = 2.0


@dataclass(frozen=True)
class Beat:
    """One heartbeat: which worker, when."""

    worker: str
    at: datetime


class Heartbeats:
    """This process's worker heartbeats: the last one, and the thread writing them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last: Beat | None = None
        self._written: Beat | None = None
        self._leaving: str | None = None  # the worker whose row is to be deleted
        self._wake = threading.Event()
        # The writing thread (real brokers only), a service of streams.runtime.lifecycle.
        self.service = lifecycle.register(
            "worker-heartbeat",
            lifecycle.Stage.SIDE,
            lambda: lifecycle.LoopThread(self._write_loop, "worker-heartbeat"),
            self._stop,
            alive=lifecycle.LoopThread.is_alive,
        )
        self._failing = False
        self._pruned_at = 0.0

    def beat(self, worker: str) -> None:
        """Record that ``worker`` consumes now (called from its timer: never blocks)."""
        with self._lock:
            self.last = Beat(worker, timezone.now())
            if not engine_settings.STEPS_EMBEDDED_WORKER:
                self._ensure_writer()
        self._wake.set()

    def leave(self, worker: str) -> None:
        """The worker shuts down: forget its beat and delete its row (waiting briefly)."""
        with self._lock:
            if self.last is not None and self.last.worker == worker:
                self.last = None
            writer = self.service.running
            if writer is None:
                return
            self._leaving = worker
        self._wake.set()
        writer.thread.join(SHUTDOWN_WAIT)

    def _ensure_writer(self) -> None:
        self.service.ensure()

    def _stop(self, writer: lifecycle.LoopThread) -> None:
        writer.stop(wake=self._wake.set, timeout=SHUTDOWN_WAIT)

    def _write_loop(self, stopping: threading.Event) -> None:
        from django.db import connections

        while True:
            self._wake.wait(engine_settings.STEPS_WORKER_HEARTBEAT_INTERVAL)
            self._wake.clear()
            if stopping.is_set():
                return
            with self._lock:
                # Taken once: a worker started later in this process beats again.
                beat, leaving, self._leaving = self.last, self._leaving, None
            try:
                if leaving is not None:
                    self._delete(leaving)
                    return
                if beat is not None and beat != self._written:
                    self._write(beat)
                    self._written = beat
            except Exception:
                if not self._failing:  # once per outage
                    logger.exception("could not record the worker's heartbeat")
                self._failing = True
                if leaving is not None:
                    return
            else:
                if self._failing:
                    logger.warning("worker heartbeat recorded again")
                self._failing = False
            finally:
                # Back to the pool (or closed) between beats: never a connection held broken.
                connections.close_all()

    def _write(self, beat: Beat) -> None:
        from ..models import WorkerHeartbeat

        WorkerHeartbeat.objects.bulk_create(
            [WorkerHeartbeat(worker=beat.worker, last_seen=beat.at)],
            update_conflicts=True,
            unique_fields=["worker"],
            update_fields=["last_seen"],
        )
        if time.monotonic() - self._pruned_at > 3600:
            WorkerHeartbeat.objects.filter(last_seen__lt=beat.at - FORGET_AFTER).delete()
            self._pruned_at = time.monotonic()

    @staticmethod
    def _delete(worker: str) -> None:
        from ..models import WorkerHeartbeat

        WorkerHeartbeat.objects.filter(worker=worker).delete()


heartbeats = Heartbeats()


def worker_name(hostname: str) -> str:
    return f"{hostname}/{os.getpid()}"


class HeartbeatStep(bootsteps.StartStopStep):
    """Consumer bootstep: beats on the consumer's timer while the consumer is connected."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c: Any, **kwargs: Any) -> None:
        self.tref: Any = None
        self.worker = worker_name(c.hostname)
        super().__init__(c, **kwargs)

    def start(self, c: Any) -> None:
        heartbeats.beat(self.worker)  # at once: a worker is healthy as soon as it consumes
        self.tref = c.timer.call_repeatedly(
            engine_settings.STEPS_WORKER_HEARTBEAT_INTERVAL, heartbeats.beat, (self.worker,)
        )

    def stop(self, c: Any) -> None:
        """The connection is lost (or the worker stops): no more beats until it is back."""
        if self.tref is not None:
            c.timer.cancel(self.tref)
            self.tref = None

    def shutdown(self, c: Any) -> None:
        self.stop(c)
        heartbeats.leave(self.worker)
