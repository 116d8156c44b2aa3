"""The embedded worker: with no broker configured, a Celery worker and beat run as threads of
the server process on Celery's in-process broker, so ``manage.py runserver`` alone runs
queue, stream and cron steps."""

import logging
import socket
import threading
from typing import Any

from celery import current_app
from celery.beat import EmbeddedService, Scheduler
from celery.worker import WorkController
from django.conf import settings

logger = logging.getLogger("steps.worker")

_lock = threading.Lock()
_started: dict[str, Any] = {}


def start_embedded_worker() -> bool:
    """Start the worker and beat threads when no real broker is configured; False when one
    is (then ``celery -A motia_site worker`` and ``beat`` run the steps)."""
    if not settings.CELERY_EMBEDDED_WORKER:
        return False
    start_worker_thread(beat=settings.CELERY_EMBEDDED_BEAT)
    return True


def start_worker_thread(*, beat: bool) -> None:
    """Run a Celery worker (and beat) in threads of this process, once, on whatever broker
    is configured."""
    with _lock:
        if "worker" in _started:
            return
        worker = WorkController(
            app=current_app,
            hostname=f"embedded@{socket.gethostname()}",
            pool_cls="threads",
            concurrency=settings.EMBEDDED_WORKER_THREADS,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="WARNING",
            prefetch_multiplier=32,
        )
        thread = threading.Thread(target=worker.start, name="embedded-celery-worker", daemon=True)
        thread.start()
        _started["worker"] = worker
        if beat and current_app.conf.beat_schedule:
            # The schedule lives in code: an in-memory scheduler, no schedule file.
            service = EmbeddedService(current_app, thread=True, scheduler_cls=Scheduler)
            service.start()
            _started["beat"] = service
    logger.info("in-process Celery worker started")
