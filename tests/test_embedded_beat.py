"""The embedded beat runs in one process of a database: ``uvicorn --workers 2`` with no broker
fires each cron step once, not twice, and a process left waiting takes over when the one that
ran the beat ends.
"""

import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from steps.running.worker import BeatLock
from tests.helpers.processes import EMBEDDED, ServerProcess, Start, TestDatabase
from tests.helpers.waiting import eventually

CRON_STEP = "CollectSystemMetrics"  # the project's cron step: every 15 seconds
PERIOD = 15
WORKER_STARTED = "in-process Celery worker started"
STARTED = "embedded beat started"
STANDING_BY = "another process of this database runs the cron steps"
TOOK_OVER = "this one runs them now"


def test_one_holder_at_a_time_and_the_next_one_takes_over(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3.beat.lock"
    first, second = BeatLock(path), BeatLock(path)
    assert first.acquire(wait=False)
    assert not second.acquire(wait=False)

    took_over = threading.Event()

    def wait_for_it() -> None:
        second.acquire(wait=True)
        took_over.set()

    threading.Thread(target=wait_for_it, daemon=True).start()
    assert not took_over.wait(0.3)
    first.release()
    assert took_over.wait(5)
    assert not first.acquire(wait=False)
    second.release()


class MultiWorkerServer(ServerProcess):
    """uvicorn as in production, with ``--workers 2``: two processes on one port."""

    def _command(self) -> list[str]:
        return [*super()._command(), "--workers", "2"]


def cron_runs(database: TestDatabase) -> list[datetime]:
    rows = database.query(
        f"SELECT started_at FROM steps_steprun WHERE step_name = '{CRON_STEP}' AND kind = 'cron'"
    )
    return [
        value if isinstance(value, datetime) else datetime.fromisoformat(value) for (value,) in rows
    ]


def test_uvicorn_workers_fire_each_cron_step_once(database: TestDatabase, start: Start) -> None:
    server = start(MultiWorkerServer(database, EMBEDDED, production=True))
    eventually(
        lambda: server.log().count(WORKER_STARTED) >= 2,
        "both processes to start their workers",
        60,
        interval=0.2,
    )
    # One fire time of the 15-second step: two beats would both fire it, within a second.
    eventually(lambda: cron_runs(database), "a run of the cron step", PERIOD + 10, interval=0.5)
    time.sleep(3)  # a second process's run of the same fire time would be recorded by now
    runs = cron_runs(database)
    slots = Counter(int(run.timestamp()) // PERIOD for run in runs)
    assert max(slots.values()) == 1, f"a fire time ran more than once: {sorted(runs)}"
    assert server.log().count(STARTED) == 1
    assert server.log().count(STANDING_BY) == 1


def test_the_waiting_process_takes_over_when_the_beat_holder_ends(
    database: TestDatabase, start: Start
) -> None:
    first = start(ServerProcess(database, EMBEDDED, name="first"))
    second = start(ServerProcess(database, EMBEDDED, name="second"))
    wait_for_line(first, STARTED)
    wait_for_line(second, STANDING_BY)
    assert STARTED not in second.log()
    first.stop()
    wait_for_line(second, TOOK_OVER)
    wait_for_line(second, STARTED)


def wait_for_line(server: ServerProcess, text: str) -> None:
    eventually(lambda: text in server.log(), f"{server.name} to log {text!r}", 30, interval=0.2)
