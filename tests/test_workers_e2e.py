"""End to end: the seed's parallel merge on real server and Celery worker processes.

- ``POST /stream-parallel-merge {"totalSteps": 5}``: a WebSocket subscriber to the merge item
  sees ``completedSteps`` go 0, 1, ..., 5 with no update dropped, and ``StreamMergeComplete``
  runs exactly once; on the embedded default (the server's own worker thread) and, with
  ``REDIS_URL`` set, on Redis with a real ``celery -A motia_site worker`` process.
- With ``REDIS_URL`` set: a worker killed (SIGKILL) in the middle of a step is a lost process,
  not a lost message; the step runs again on the other worker and the merge completes. That
  takes the visibility timeout plus up to one restore sweep period of the surviving worker
  (see :func:`restore_period`): about 100 s with kombu's defaults.

Step runs are read from the test's own database (``steps_steprun``). Every wait is bounded; a
failing test prints the logs of its servers and workers.
"""

import asyncio
import contextlib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from django.conf import settings
from kombu.transport.redis import Channel as RedisChannel

from tests.server import ServerProcess, TestDatabase, WorkerProcess, logs_on_failure

WAIT = 5.0  # seconds for one frame, one HTTP answer, one step run to start
MERGE_WAIT = 20.0  # seconds for a whole merge of a few one-second steps
GRACE = 1.5  # seconds to wait for a second completion (or update) that must not come
POLL = 0.05
EMBEDDED = {"REDIS_URL": "", "CELERY_BROKER_URL": "memory://"}  # the default, whatever we have
VISIBILITY_TIMEOUT = 3  # CELERY_VISIBILITY_TIMEOUT of the kill test's processes


def restore_period() -> float:
    """Seconds between two sweeps of a live worker that give back the messages of dead ones.

    Every ``unacked_restore_interval`` seconds a worker restores the unacknowledged messages
    older than the visibility timeout, but it scans Redis only every
    ``unacked_restore_throttle``-th time: "the effective async sweep period is roughly
    interval * throttle" (kombu.transport.redis). Unless the settings set them, kombu's
    defaults hold (10 s x 10).
    """
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    default_throttle = getattr(RedisChannel, "unacked_restore_throttle", 1)
    interval = (
        options.get("unacked_restore_interval")
        # kombu's, missing from the stubs of celery-types
        or RedisChannel.unacked_restore_interval  # type: ignore[attr-defined]
    )
    throttle = options.get("unacked_restore_throttle", default_throttle) or 1
    return float(interval) * throttle


# A killed worker's message runs again within the visibility timeout plus one sweep period.
REDELIVERY_WAIT = VISIBILITY_TIMEOUT + restore_period() + 15.0


# --- processes ------------------------------------------------------------------------------


class Cluster:
    """Servers and workers on one fresh database, stopped (and their logs printed on failure)
    when the test is over."""

    def __init__(self, database: TestDatabase, stack: contextlib.ExitStack) -> None:
        self.database = database
        self.processes: list[ServerProcess | WorkerProcess] = []
        self._stack = stack

    @property
    def redis_env(self) -> dict[str, str]:
        """Environment for processes that share a queue of their own on Redis."""
        return {"CELERY_QUEUE": f"steps-{self.database.name}"}

    def server(self, env: dict[str, str]) -> ServerProcess:
        server = ServerProcess(self.database, env, name=f"server-{len(self.processes)}")
        self.processes.append(server)
        return self._stack.enter_context(server)

    def worker(
        self, env: dict[str, str], name: str, pool: str = "threads", concurrency: int = 4
    ) -> WorkerProcess:
        worker = WorkerProcess(self.database, env, name, pool, concurrency)
        self.processes.append(worker)
        return self._stack.enter_context(worker)


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """A fresh database for the test's servers and workers."""
    with TestDatabase(tmp_path) as database, contextlib.ExitStack() as stack:
        cluster = Cluster(database, stack)
        with logs_on_failure(request, cluster.processes):
            yield cluster


@pytest.fixture
def redis_cluster(cluster: Cluster) -> Cluster:
    """The same, for tests that need Celery on Redis."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL is not set: real Celery worker processes need Redis")
    return cluster


# --- step runs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One ``steps_steprun`` row."""

    id: int
    step_name: str
    task_id: str
    worker: str
    status: str
    attempt: int
    error: str


def step_runs(database: TestDatabase) -> list[Run]:
    """Every step run recorded in the test's database, oldest first."""
    sql = (
        "SELECT id, step_name, task_id, worker, status, attempt, error"
        " FROM steps_steprun ORDER BY id"
    )
    if database.is_postgres:
        import psycopg

        assert database.url is not None
        with psycopg.connect(database.url, connect_timeout=5) as connection:
            rows = connection.execute(sql).fetchall()
    else:
        path = database.env["SQLITE_PATH"]
        with contextlib.closing(sqlite3.connect(path, timeout=5)) as connection:
            rows = connection.execute(sql).fetchall()
    return [Run(*row) for row in rows]


async def wait_for_runs(
    database: TestDatabase, predicate: Callable[[list[Run]], bool], timeout: float, what: str
) -> list[Run]:
    """Poll the step runs until ``predicate`` holds; fail with what was there at the end."""
    deadline = time.monotonic() + timeout
    while True:
        runs = await asyncio.to_thread(step_runs, database)
        if predicate(runs):
            return runs
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout}s; step runs: {runs}")
        await asyncio.sleep(POLL)


def runs_of(runs: list[Run], step_name: str) -> list[Run]:
    return [run for run in runs if run.step_name == step_name]


async def assert_completed_once(database: TestDatabase) -> Run:
    """``StreamMergeComplete`` succeeds, and no second run of it follows."""
    await wait_for_runs(
        database,
        lambda runs: any(r.status == "succeeded" for r in runs_of(runs, "StreamMergeComplete")),
        MERGE_WAIT,
        "succeeded StreamMergeComplete run",
    )
    await asyncio.sleep(GRACE)
    completions = runs_of(await asyncio.to_thread(step_runs, database), "StreamMergeComplete")
    assert [run.status for run in completions] == ["succeeded"], completions
    return completions[0]


# --- the WebSocket subscriber ---------------------------------------------------------------


class MergeSubscriber:
    """A raw ``websockets`` client following one parallelMerge item; it records the
    ``completedSteps`` of every frame about the item, the first sync included."""

    def __init__(self, ws: websockets.ClientConnection, trace_id: str) -> None:
        self.ws = ws
        self.trace_id = trace_id
        self.values: list[int] = []
        self.events: list[str] = []
        self.collector: asyncio.Task[None] | None = None

    def record(self, frame: dict[str, Any]) -> None:
        assert frame.get("type") == "stream", frame
        assert (frame["streamName"], frame["groupId"], frame["id"]) == (
            "parallelMerge",
            "merge-groups",
            self.trace_id,
        ), frame
        event = frame["event"]
        self.events.append(event["type"])
        if event["data"] is not None:
            self.values.append(event["data"]["completedSteps"])

    async def collect(self) -> None:
        async for text in self.ws:
            self.record(json.loads(text))

    async def wait_for(self, value: int, timeout: float) -> None:
        """Wait until ``completedSteps`` reached ``value``; fail with what was seen."""
        deadline = time.monotonic() + timeout
        while not self.values or self.values[-1] < value:
            if self.collector is not None and self.collector.done():
                self.collector.result()  # a bad frame fails here
                pytest.fail(f"the socket closed; seen: {self.values} ({self.events})")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"completedSteps did not reach {value} within {timeout}s; "
                    f"seen: {self.values} ({self.events})"
                )
            await asyncio.sleep(POLL)


@contextlib.asynccontextmanager
async def subscribe_merge(server: ServerProcess, trace_id: str) -> AsyncIterator[MergeSubscriber]:
    """Join the merge item (before it exists: the sync says null) and follow it."""
    async with websockets.connect(server.ws_url, open_timeout=WAIT) as ws:
        join = {
            "streamName": "parallelMerge",
            "groupId": "merge-groups",
            "id": trace_id,
            "subscriptionId": "x",
        }
        await ws.send(json.dumps({"type": "join", "data": join}))
        subscriber = MergeSubscriber(ws, trace_id)
        subscriber.record(json.loads(await asyncio.wait_for(ws.recv(), WAIT)))
        assert subscriber.events == ["sync"] and subscriber.values == [], "item already exists"
        subscriber.collector = collector = asyncio.create_task(subscriber.collect())
        try:
            yield subscriber
        finally:
            collector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await collector  # a bad frame that came last fails here


async def start_merge(server: ServerProcess, trace_id: str, total: int) -> None:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=WAIT) as http:
        response = await http.post(
            "/stream-parallel-merge", json={"totalSteps": total, "traceId": trace_id}
        )
    assert response.status_code == 200, response.text
    assert response.json() == {"traceId": trace_id, "totalSteps": total}


async def run_merge(cluster: Cluster, server: ServerProcess, total: int) -> list[Run]:
    """Start a merge of ``total`` steps and check what the issue asks; return the step runs."""
    trace_id = str(uuid.uuid4())
    async with subscribe_merge(server, trace_id) as subscriber:
        await start_merge(server, trace_id, total)
        await subscriber.wait_for(total, MERGE_WAIT)
        await assert_completed_once(cluster.database)  # also time for a stray update to show
    assert subscriber.values == list(range(total + 1)), subscriber.events
    assert subscriber.events == ["sync", "create"] + ["update"] * total
    runs = await asyncio.to_thread(step_runs, cluster.database)
    steps = runs_of(runs, "StreamStepProcess")
    assert [run.status for run in steps] == ["succeeded"] * total, steps
    assert len({run.task_id for run in steps}) == total, steps
    return runs


# --- tests ----------------------------------------------------------------------------------


async def test_parallel_merge_on_embedded_worker(cluster: Cluster) -> None:
    """One server and nothing else: its embedded worker runs the steps."""
    server = cluster.server(EMBEDDED)
    await run_merge(cluster, server, total=5)


async def test_parallel_merge_on_redis_worker(redis_cluster: Cluster) -> None:
    """A server and a real ``celery worker`` process (4 threads) on Redis."""
    env = redis_cluster.redis_env
    server = redis_cluster.server(env)
    worker = redis_cluster.worker(env, "w1")
    runs = await run_merge(redis_cluster, server, total=5)
    on_celery = [r for r in runs if r.step_name in ("StreamStepProcess", "StreamMergeComplete")]
    assert {run.worker for run in on_celery} == {worker.hostname}, runs


@pytest.mark.timeout(REDELIVERY_WAIT + 60)
async def test_step_of_killed_worker_runs_again_on_another(redis_cluster: Cluster) -> None:
    """SIGKILL the worker running a step: the step runs again on the other worker (once its
    message is past the visibility timeout) and the merge completes, nothing lost or doubled."""
    total = 4
    env = {**redis_cluster.redis_env, "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT)}
    server = redis_cluster.server(env)
    workers = [redis_cluster.worker(env, name, "solo", 1) for name in ("w1", "w2")]
    by_host = {worker.hostname: worker for worker in workers}
    database = redis_cluster.database

    trace_id = str(uuid.uuid4())
    async with subscribe_merge(server, trace_id) as subscriber:
        await start_merge(server, trace_id, total)
        runs = await wait_for_runs(
            database,
            lambda runs: any(r.status == "running" for r in runs_of(runs, "StreamStepProcess")),
            WAIT,
            "running StreamStepProcess",
        )
        killed = next(r for r in runs_of(runs, "StreamStepProcess") if r.status == "running")
        victim = by_host[killed.worker]
        victim.kill()  # within the step's one-second sleep: before its increment
        (survivor,) = (worker for worker in workers if worker is not victim)

        def rerun_succeeded(runs: list[Run]) -> bool:
            return any(
                r.task_id == killed.task_id and r.id > killed.id and r.status == "succeeded"
                for r in runs
            )

        runs = await wait_for_runs(
            database, rerun_succeeded, REDELIVERY_WAIT, f"re-run of task {killed.task_id}"
        )
        await subscriber.wait_for(total, WAIT)
        await assert_completed_once(database)

    assert subscriber.values == list(range(total + 1)), subscriber.events
    runs = await asyncio.to_thread(step_runs, database)
    reruns = [r for r in runs if r.task_id == killed.task_id and r.id > killed.id]
    assert [(r.worker, r.status) for r in reruns] == [(survivor.hostname, "succeeded")], runs
    (lost,) = [r for r in runs if r.id == killed.id]
    assert (lost.status, lost.error) == ("failed", "worker lost"), "the dead attempt is closed"
    # Every message of the merge succeeded exactly once; only the killed attempt did not.
    steps = [r for r in runs_of(runs, "StreamStepProcess") if r.id != killed.id]
    assert sorted(r.status for r in steps) == ["succeeded"] * total, steps
    assert len({r.task_id for r in steps}) == total, steps
