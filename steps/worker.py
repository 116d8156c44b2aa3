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
from typing import IO, Any

from celery import Celery, current_app
from celery.beat import EmbeddedService, Scheduler
from celery.worker import WorkController
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from streams.conf import is_sqlite

from .conf import engine_settings, is_in_process_broker

logger = logging.getLogger("steps.worker")

_lock = threading.Lock()
_started: dict[str, Any] = {}


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
    return "worker" in _started


def start_worker_thread(*, beat: bool) -> None:
    """Run a Celery worker (and, in one process of the database, beat) in threads of this
    process, once, on whatever broker is configured."""
    # The tasks register themselves with Celery as their module is imported; nothing else
    # in a project without a Celery app of its own (autodiscover) imports it.
    from . import tasks  # noqa: F401

    with _lock:
        if "worker" in _started:
            return
        worker = WorkController(
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
        thread = threading.Thread(target=worker.start, name="embedded-celery-worker", daemon=True)
        thread.start()
        _started["worker"] = worker
    logger.info("in-process Celery worker started")
    if beat and current_app.conf.beat_schedule:
        start_beat_when_first(BeatLock(beat_lock_path()))


def start_beat_when_first(lock: BeatLock) -> None:
    """Run the beat here if no other process of the database runs it; otherwise wait in a
    thread for the lock and take over when that process ends."""
    if lock.acquire(wait=False):
        _start_beat(lock)
        return
    logger.warning(
        "another process of this database runs the cron steps (embedded beat, lock %s): this "
        "one takes over if it ends. The embedded mode is one process: stream changes reach "
        "only the subscribers of the process that made them (set REDIS_URL for several)",
        lock.path,
    )

    def wait_then_start() -> None:
        lock.acquire(wait=True)
        logger.warning("the process running the cron steps ended: this one runs them now")
        _start_beat(lock)

    threading.Thread(target=wait_then_start, name="embedded-beat-standby", daemon=True).start()


def _start_beat(lock: BeatLock) -> None:
    with _lock:
        if "beat" in _started:
            lock.release()
            return
        # The schedule lives in code: an in-memory scheduler, no schedule file.
        service = EmbeddedService(current_app, thread=True, scheduler_cls=Scheduler)
        assert isinstance(service, threading.Thread)  # as thread=True makes it
        service.start()
        _started["beat"] = service
        _started["beat_lock"] = lock
    logger.info("embedded beat started in process %d", os.getpid())
