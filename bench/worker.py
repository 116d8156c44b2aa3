"""The production topology's Celery worker, as the Procfile runs it, for the benchmarks.

On PostgreSQL and Redis the servers only enqueue the stream-triggered steps; a Celery worker
process (``python -m celery -A motia_site worker``, the Procfile's ``worker``) runs them. This
module starts one on the run's database and queue (``CELERY_QUEUE=bench-<tag>``), waits until
it consumes (its first heartbeat row), reads its CPU (the main process and its pool's
children), and tells whether it ran every step the writes caused: the succeeded runs of the
example's stream-triggered step recorded in the database, the dead letters, and the messages
left in its Redis queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import harness as h

# The example's step triggered by every change of todo/todos (examples/notifications): one run
# per todo created.
STREAM_STEP = "AnnounceTodoChange"
DRAIN_QUIET = 3.0  # seconds without a new run: the worker is done with what it was given


def worker_command(python: str, name: str) -> list[str]:
    """The Procfile's ``worker`` line, named for the run (``-n``) and logging warnings only,
    as the benchmarks' servers do."""
    return [
        *(python, "-m", "celery", "-A", "motia_site", "worker"),
        *("--loglevel=WARNING", "-n", f"{name}@%h"),
    ]


def start_worker(
    python: str, project: Path, env: dict[str, str], tmp: Path, database: h.Database
) -> h.Process:
    """A Celery worker on the run's database and queue; returns once it consumes (its first
    heartbeat is in the database)."""
    name = f"worker-{database.tag}"
    process = h.Process(
        "worker", worker_command(python, f"bench-{database.tag}"), project, env, tmp / f"{name}.log"
    )
    try:
        deadline = time.monotonic() + h.START_TIMEOUT
        while heartbeats(database) == 0:
            if not process.alive():
                raise RuntimeError(f"the worker exited with {process.popen.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not beat within {h.START_TIMEOUT:.0f} s")
            time.sleep(0.2)
    except BaseException:
        process.stop()
        raise
    return process


def heartbeats(database: h.Database) -> int:
    return int(query(database, "SELECT count(*) FROM steps_workerheartbeat")[0][0])


def query(database: h.Database, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Rows of ``sql`` on the run's database, through the monitor's connection if open."""
    if database.reader is not None:
        return list(database.reader.execute(sql, params).fetchall())
    connection = database.connect()
    try:
        return list(connection.execute(sql, params).fetchall())
    finally:
        connection.close()


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds of a process and of its living descendants (a prefork worker's pool)."""
    total = h.cpu_seconds(pid)
    if total is None:
        return None
    for child in children(pid):
        total += tree_cpu_seconds(child) or 0.0
    return total


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


class TreeCpu:
    """CPU of a process tree between :meth:`start` and :meth:`stop`, % of one core."""

    def __init__(self, pid: int, read: Callable[[int], float | None] = tree_cpu_seconds) -> None:
        self.pid, self.read = pid, read
        self.cpu0: float | None = None
        self.wall0 = 0.0
        self.percent: float | None = None

    def start(self) -> TreeCpu:
        self.cpu0, self.wall0 = self.read(self.pid), time.monotonic()
        return self

    def stop(self) -> TreeCpu:
        cpu, wall = self.read(self.pid), time.monotonic() - self.wall0
        if self.cpu0 is not None and cpu is not None and wall > 0:
            self.percent = 100.0 * (cpu - self.cpu0) / wall
        return self


@dataclass
class StepRuns:
    """What the worker did with the writes' stream-triggered steps, read after the run."""

    expected: int  # todos created: one run each
    succeeded: int = 0
    other: int = 0  # runs in any other state (running, retrying, failed)
    dead_letters: int = 0
    queued: int | None = None  # messages left in the run's Redis queue
    drain_seconds: float | None = None  # from the end of the writes to the last run seen

    @property
    def complete(self) -> bool:
        return self.succeeded >= self.expected and self.dead_letters == 0 and not self.queued

    def summary(self) -> str:
        return (
            f"{self.succeeded:,}/{self.expected:,} {STREAM_STEP} runs succeeded, "
            f"{self.other} other, {self.dead_letters} dead letters, "
            f"{h.fmt(self.queued)} left queued, drained in {h.fmt(self.drain_seconds, 1)} s"
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "complete": self.complete}


def count_runs(database: h.Database) -> tuple[int, int, int]:
    """(succeeded, other, dead letters) of the stream-triggered step."""
    rows = query(
        database,
        "SELECT status, count(*) FROM steps_steprun WHERE step_name = %s GROUP BY status",
        (STREAM_STEP,),
    )
    succeeded = sum(int(n) for status, n in rows if status == "succeeded")
    other = sum(int(n) for status, n in rows if status != "succeeded")
    dead = query(
        database, "SELECT count(*) FROM steps_deadletter WHERE step_name = %s", (STREAM_STEP,)
    )
    return succeeded, other, int(dead[0][0])


def todos_created(database: h.Database) -> int:
    """Items of todo/todos written through the API so far (the benchmarks' databases start
    empty; items writes.py inserted straight into the table, ``prefill-*``, triggered nothing)."""
    rows = query(
        database,
        "SELECT count(*) FROM streams_streamitem i JOIN streams_streamgroup g "
        "ON i.group_id = g.id WHERE g.stream_name = 'todo' AND g.group_id = 'todos' "
        "AND i.item_id NOT LIKE 'prefill-%%'",
    )
    return int(rows[0][0])


def queued_messages(database: h.Database) -> int:
    """Messages waiting in the run's queue (kombu keeps one Redis list per queue and priority)."""
    import redis

    client = redis.Redis.from_url(database.redis_url, socket_timeout=5)
    try:
        total = 0
        for key in client.scan_iter(match=f"{database.queue}*", count=1000):
            if client.type(key) == b"list":
                total += int(client.llen(key))
        return total
    finally:
        client.close()


def wait_for_runs(database: h.Database, expected: int, timeout: float) -> StepRuns:
    """Wait until the worker has run the step ``expected`` times (or nothing moves for
    :data:`DRAIN_QUIET` seconds with the queue empty, or ``timeout``), then count."""
    started = time.monotonic()
    runs = StepRuns(expected)
    last_change, seen = started, -1
    while True:
        runs.succeeded, runs.other, runs.dead_letters = count_runs(database)
        done = runs.succeeded + runs.dead_letters
        now = time.monotonic()
        if done != seen:
            seen, last_change = done, now
            runs.drain_seconds = now - started
        if done >= expected or now - started > timeout:
            break
        if now - last_change > DRAIN_QUIET and queued_messages(database) == 0:
            break
        time.sleep(0.1)
    runs.queued = queued_messages(database)
    return runs
