"""The embedded worker: with no broker configured, a Celery worker and beat run as threads of
the server process on Celery's in-process broker, so ``manage.py runserver`` alone runs
queue, stream and cron steps.

The embedded mode is one process. Each process runs its own worker (its broker is in memory,
so it runs what that process enqueues), but only one process of a database runs the beat:
several processes (``uvicorn --workers N``, two ``runserver`` on one SQLite file) would
otherwise fire every cron step once each. Which one is decided by :class:`BeatLock`, a lock
on a file; the others wait for it and take over when its holder ends.
"""

import fcntl
import hashlib
import logging
import os
import socket
import tempfile
import threading
from pathlib import Path
from typing import IO

from celery import Celery, current_app
from celery.beat import EmbeddedService, Scheduler
from celery.worker import WorkController
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from streams.conf import is_sqlite
from streams.runtime import lifecycle

from ..conf import engine_settings, is_in_process_broker

logger = logging.getLogger("steps.worker")


class BeatLock:
    """An exclusive lock on a file, held for the life of the process (or until
    :meth:`release`). The kernel drops it when its process ends, however it ends, so a
    process that waits for it takes over from one that died."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def acquire(self, *, wait: bool) -> bool:
        """Take the lock; without ``wait``, False at once when another holder has it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = self.path.open("ab")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            file.close()
            return False
        except BaseException:
            file.close()
            raise
        self._file = file
        return True

    def release(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()  # closing the last descriptor drops the lock


def beat_lock_path() -> Path:
    """The lock of the embedded beat of this process's database: next to a SQLite file, in the
    system's temporary directory for another database (named by a digest of where it is, so
    that every process of the machine on that database shares it)."""
    database = settings.DATABASES["default"]
    if is_sqlite(settings.DATABASES):
        return Path(f"{database['NAME']}.beat.lock")
    where = "|".join(str(database.get(k) or "") for k in ("ENGINE", "HOST", "PORT", "NAME"))
    digest = hashlib.sha256(where.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"steps-embedded-beat-{digest}.lock"


# The in-process broker is polled; Celery's default second would delay every step run.
IN_PROCESS_POLLING_INTERVAL = 0.02


def use_in_process_broker(app: Celery) -> None:
    """With ``STEPS_EMBEDDED_WORKER``, point a Celery app that names no broker at the
    in-process one (Celery's own default is an AMQP server on localhost), and poll it often.
    A broker the project names is left alone."""
    try:
        embedded = engine_settings.STEPS_EMBEDDED_WORKER
    except ImproperlyConfigured:
        return  # called as the app loads: the settings' checks report the invalid ones
    if not embedded:
        return
    if not app.conf.broker_url:
        # An item, as Celery sets the attribute too (celery-types makes it read-only).
        app.conf["broker_url"] = "memory://"
    if is_in_process_broker(app.conf.broker_url):
        options = dict(app.conf.broker_transport_options or {})
        options.setdefault("polling_interval", IN_PROCESS_POLLING_INTERVAL)
        app.conf.broker_transport_options = options


def start_embedded_worker() -> bool:
    """Start the worker and beat threads with ``STEPS_EMBEDDED_WORKER`` (on by default when no
    broker is configured); False without (then ``celery worker`` and ``beat`` run the steps)."""
    if not engine_settings.STEPS_EMBEDDED_WORKER:
        return False
    start_worker_thread(beat=engine_settings.STEPS_EMBEDDED_BEAT)
    return True


def embedded_worker_runs() -> bool:
    """Whether this process runs a worker in its threads (the one that consumes what it sends
    to the in-process broker)."""
    return _worker.running is not None


class _RunningWorker:
    """A Celery worker running in a thread of this process."""

    def __init__(self) -> None:
        self.worker = WorkController(
            app=current_app,
            hostname=f"embedded@{socket.gethostname()}",
            pool_cls="threads",
            concurrency=engine_settings.STEPS_EMBEDDED_WORKER_THREADS,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="WARNING",
            prefetch_multiplier=32,
        )
        self.thread = threading.Thread(target=self.worker.start, name="embedded-celery-worker")
        self.thread.daemon = True
        self.thread.start()
        logger.info("in-process Celery worker started")

    def stop(self) -> None:
        """A warm shutdown: the runs under way end, no new one starts."""
        self.worker.stop(in_sighandler=False)
        self.thread.join(STOP_SECONDS)


# Seconds a stop waits for the worker's runs under way to end.
STOP_SECONDS = 30.0
# Seconds between two attempts of a process waiting to run the beat.
STANDBY_POLL_SECONDS = 0.5


class _RunningBeat:
    """The embedded beat of this process, or its wait to run it (:class:`BeatLock`)."""

    def __init__(self, lock: BeatLock) -> None:
        self.lock = lock
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.service: threading.Thread | None = None
        self.standby: threading.Thread | None = None
        if lock.acquire(wait=False):
            self._start_beat()
            return
        logger.warning(
            "another process of this database runs the cron steps (embedded beat, lock %s): "
            "this one takes over if it ends. The embedded mode is one process: stream changes "
            "reach only the subscribers of the process that made them (set REDIS_URL for "
            "several)",
            lock.path,
        )
        self.standby = threading.Thread(target=self._wait_then_start, name="embedded-beat-standby")
        self.standby.daemon = True
        self.standby.start()

    def _wait_then_start(self) -> None:
        # Polled rather than blocking on the lock: a stop must be able to end the wait.
        while not self._stopping.wait(STANDBY_POLL_SECONDS):
            if self.lock.acquire(wait=False):
                logger.warning("the process running the cron steps ended: this one runs them now")
                self._start_beat()
                return

    def _start_beat(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                self.lock.release()
                return
            # The schedule lives in code: an in-memory scheduler, no schedule file.
            service = EmbeddedService(current_app, thread=True, scheduler_cls=Scheduler)
            assert isinstance(service, threading.Thread)  # as thread=True makes it
            service.start()
            self.service = service
        logger.info("embedded beat started in process %d", os.getpid())

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            service = self.service
        if self.standby is not None:
            self.standby.join()
        if service is not None:
            service.stop()  # type: ignore[attr-defined]  # celery.beat._Threaded's
            service.join(STOP_SECONDS)
            self.lock.release()


# The worker and the beat, services of streams.runtime.lifecycle: started with the server (or by a
# command, a test), stopped with the engine's other threads.
_worker = lifecycle.register(
    "embedded-worker", lifecycle.Stage.RUN, _RunningWorker, _RunningWorker.stop
)
_beat = lifecycle.register(
    "embedded-beat",
    lifecycle.Stage.SCHEDULE,
    lambda: _RunningBeat(BeatLock(beat_lock_path())),
    _RunningBeat.stop,
)


def start_worker_thread(*, beat: bool) -> None:
    """Run a Celery worker (and, in one process of the database, beat) in threads of this
    process, once, on whatever broker is configured."""
    # The tasks register themselves with Celery as their module is imported; nothing else
    # in a project without a Celery app of its own (autodiscover) imports it.
    from .. import tasks  # noqa: F401

    _worker.ensure()
    if beat and current_app.conf.beat_schedule:
        _beat.ensure()
