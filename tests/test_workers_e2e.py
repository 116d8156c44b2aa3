"""End to end: the example parallel merge on real server and Celery worker processes.

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
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from django.conf import settings
from kombu.transport.redis import Channel as RedisChannel

from tests.helpers.passes import needs_redis
from tests.helpers.processes import EMBEDDED, ServerProcess, Start, TestDatabase, WorkerProcess
from tests.helpers.waiting import eventually_async
from tests.helpers.wire import Subscriber, subscribed

WAIT = 5.0  # seconds for one frame, one HTTP answer, one step run to start
MERGE_WAIT = 20.0  # seconds for a whole merge of a few one-second steps
GRACE = 1.5  # seconds to wait for a second completion (or update) that must not come
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
    return [
        Run(*row)
        for row in database.query(
            "SELECT id, step_name, task_id, worker, status, attempt, error"
            " FROM steps_steprun ORDER BY id"
        )
    ]


async def wait_for_runs(
    database: TestDatabase, predicate: Callable[[list[Run]], bool], timeout: float, what: str
) -> list[Run]:
    """Poll the step runs until ``predicate`` holds; fail with what was there at the end."""
    seen: list[Run] = []

    async def holds() -> list[Run] | None:
        seen[:] = await asyncio.to_thread(step_runs, database)
        return seen if predicate(seen) else None

    return await eventually_async(holds, lambda: f"no {what}; step runs: {seen}", timeout)


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


def completed_steps(subscriber: Subscriber) -> list[int]:
    """``completedSteps`` of every frame about the merge item since the sync, in order."""
    return [f["event"]["data"]["completedSteps"] for f in subscriber.frames if f["event"]["data"]]


def event_types(subscriber: Subscriber) -> list[str]:
    return [subscriber.sync["event"]["type"]] + [f["event"]["type"] for f in subscriber.frames]


async def wait_for_merge(subscriber: Subscriber, total: int, timeout: float) -> None:
    """Wait until ``completedSteps`` reached ``total``; fail with what was seen."""

    def reached() -> bool:
        steps = completed_steps(subscriber)
        return bool(steps) and steps[-1] >= total

    def seen() -> str:
        return f"completedSteps at {total}; seen {completed_steps(subscriber)}"

    await subscriber.wait_until(reached, seen, timeout)


@contextlib.asynccontextmanager
async def subscribe_merge(server: ServerProcess, trace_id: str) -> AsyncIterator[Subscriber]:
    """Join the merge item before it exists (its sync says null) and follow it; every frame
    must be about the item."""
    merge = ("parallelMerge", "merge-groups", trace_id)
    async with subscribed(server.ws_url, *merge, timeout=WAIT) as subscriber:
        assert subscriber.sync["event"]["data"] is None, "item already exists"
        yield subscriber
    for frame in subscriber.frames:
        assert (frame["streamName"], frame["groupId"], frame["id"]) == merge, frame


async def start_merge(server: ServerProcess, trace_id: str, total: int) -> None:
    async with server.http_client(WAIT) as http:
        response = await http.post(
            "/stream-parallel-merge", json={"totalSteps": total, "traceId": trace_id}
        )
    assert response.status_code == 200, response.text
    assert response.json() == {"traceId": trace_id, "totalSteps": total}


async def run_merge(database: TestDatabase, server: ServerProcess, total: int) -> list[Run]:
    """Start a merge of ``total`` steps and check what the issue asks; return the step runs."""
    trace_id = str(uuid.uuid4())
    async with subscribe_merge(server, trace_id) as subscriber:
        await start_merge(server, trace_id, total)
        await wait_for_merge(subscriber, total, MERGE_WAIT)
        await assert_completed_once(database)  # also time for a stray update to show
    assert completed_steps(subscriber) == list(range(total + 1)), event_types(subscriber)
    assert event_types(subscriber) == ["sync", "create"] + ["update"] * total
    runs = await asyncio.to_thread(step_runs, database)
    steps = runs_of(runs, "StreamStepProcess")
    assert [run.status for run in steps] == ["succeeded"] * total, steps
    assert len({run.task_id for run in steps}) == total, steps
    return runs


# --- tests ----------------------------------------------------------------------------------


async def test_parallel_merge_on_embedded_worker(database: TestDatabase, start: Start) -> None:
    """One server and nothing else: its embedded worker runs the steps."""
    server = start(ServerProcess(database, EMBEDDED))
    await run_merge(database, server, total=5)


@needs_redis
async def test_parallel_merge_on_redis_worker(database: TestDatabase, start: Start) -> None:
    """A server and a real ``celery worker`` process (4 threads) on Redis."""
    server = start(ServerProcess(database, database.own_queue))
    worker = start(WorkerProcess(database, database.own_queue, "w1"))
    runs = await run_merge(database, server, total=5)
    on_celery = [r for r in runs if r.step_name in ("StreamStepProcess", "StreamMergeComplete")]
    assert {run.worker for run in on_celery} == {worker.hostname}, runs


@needs_redis
@pytest.mark.timeout(REDELIVERY_WAIT + 60)
async def test_step_of_killed_worker_runs_again_on_another(
    database: TestDatabase, start: Start
) -> None:
    """SIGKILL the worker running a step: the step runs again on the other worker (once its
    message is past the visibility timeout) and the merge completes, nothing lost or doubled."""
    total = 4
    env = {**database.own_queue, "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT)}
    server = start(ServerProcess(database, env))
    workers = [start(WorkerProcess(database, env, name, "solo", 1)) for name in ("w1", "w2")]
    by_host = {worker.hostname: worker for worker in workers}

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
        await wait_for_merge(subscriber, total, WAIT)
        await assert_completed_once(database)

    assert completed_steps(subscriber) == list(range(total + 1)), event_types(subscriber)
    runs = await asyncio.to_thread(step_runs, database)
    reruns = [r for r in runs if r.task_id == killed.task_id and r.id > killed.id]
    assert [(r.worker, r.status) for r in reruns] == [(survivor.hostname, "succeeded")], runs
    (lost,) = [r for r in runs if r.id == killed.id]
    assert (lost.status, lost.error) == ("failed", "worker lost"), "the dead attempt is closed"
    # Every message of the merge succeeded exactly once; only the killed attempt did not.
    steps = [r for r in runs_of(runs, "StreamStepProcess") if r.id != killed.id]
    assert sorted(r.status for r in steps) == ["succeeded"] * total, steps
    assert len({r.task_id for r in steps}) == total, steps
