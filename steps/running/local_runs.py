"""Running steps in this process until what they caused is done: for ``manage.py enqueue``
and ``run_cron`` on the embedded default.

The embedded broker (``memory://``) lives in the memory of the process that uses it, so a
command cannot hand a message to a running server's embedded worker. The command runs it
itself instead: :func:`run_here` starts the embedded worker in the command's process (no
beat), and :meth:`InFlight.wait` waits until every message this process published has been
handled (the messages those handlers sent too, and retries, which are new messages) and the
runs are recorded.

Counting is done with Celery's signals: a message counts from ``before_task_publish`` until
its task ends (``task_postrun``; ``task_revoked``, ``task_unknown`` or ``task_rejected`` when it
never runs). A task returns only once the messages it caused have left (:mod:`steps.tasks`),
so the count cannot fall to zero while work remains.
"""

import threading
import time
from typing import Any

from celery.signals import (
    before_task_publish,
    task_postrun,
    task_rejected,
    task_revoked,
    task_unknown,
)

from ..records import flush_runs
from .sending import sender
from .worker import start_worker_thread

# How often the count is looked at while waiting.
POLL_SECONDS = 0.02


class InFlight:
    """Messages this process published whose task has not ended yet."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()
        self._uid = f"steps.running.local_runs.{id(self)}"

    def __enter__(self) -> "InFlight":
        before_task_publish.connect(self._published, weak=False, dispatch_uid=self._uid)
        for ended in (task_postrun, task_revoked, task_unknown, task_rejected):
            ended.connect(self._ended, weak=False, dispatch_uid=self._uid)
        return self

    def __exit__(self, *_: object) -> None:
        before_task_publish.disconnect(dispatch_uid=self._uid)
        for ended in (task_postrun, task_revoked, task_unknown, task_rejected):
            ended.disconnect(dispatch_uid=self._uid)

    @property
    def count(self) -> int:
        return self._count

    def _published(self, *_: Any, **__: Any) -> None:
        with self._lock:
            self._count += 1

    def _ended(self, *_: Any, **__: Any) -> None:
        with self._lock:
            self._count -= 1

    def wait(self, timeout: float) -> bool:
        """Wait until every message sent so far, and every one they caused, is handled, then
        write the runs; False when ``timeout`` seconds were not enough."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            # Sent runs are counted once the sending thread has published them.
            if not sender.wait_sent(max(left, 0)):
                return False
            if self._count <= 0:
                flush_runs()
                return True
            if left <= 0:
                return False
            time.sleep(POLL_SECONDS)


def run_here() -> None:
    """Start the embedded worker in this process (no beat: only what this process sends)."""
    start_worker_thread(beat=False)
