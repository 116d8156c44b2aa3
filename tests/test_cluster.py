"""End to end: what crosses processes, on real PostgreSQL and Redis.

Two uvicorn servers (A and B, as production runs them) and a ``celery worker`` share one
database and one Redis server of the test's own (its own port, so that it can be stopped and
started again). Every wait is bounded; a failing test prints the processes' logs.

Needs PostgreSQL and Redis (the services pass of ``make test``); the embedded pass skips it.
"""

import asyncio
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from streams.client.stream_client import StreamClient
from tests.helpers.balancer import Balancer
from tests.helpers.passes import needs_services
from tests.helpers.processes import RedisServer, ServerProcess, Start, TestDatabase, WorkerProcess
from tests.helpers.waiting import eventually_async
from tests.helpers.wire import Subscriber, subscribed

WAIT = 15.0  # seconds for the frames of a whole scenario to arrive


pytestmark = needs_services


@dataclass
class Cluster:
    database: TestDatabase
    redis: RedisServer
    a: ServerProcess
    b: ServerProcess
    worker: WorkerProcess


@pytest.fixture
def cluster(tmp_path: Path, database: TestDatabase, start: Start) -> Cluster:
    redis = start(RedisServer(tmp_path))
    env = {"REDIS_URL": redis.url, **database.own_queue}
    a = start(ServerProcess(database, env, name="A", production=True))
    b = start(ServerProcess(database, env, name="B", production=True))
    return Cluster(database, redis, a, b, start(WorkerProcess(database, env)))


def subscribed_on(server: ServerProcess, stream: str, group: str) -> Any:
    """A subscriber to ``stream``/``group`` on ``server``, recording every frame."""
    return subscribed(server.ws_url, stream, group, timeout=WAIT)


async def _gather_limited(jobs: list[Any], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(run(job) for job in jobs))


# --- the scenarios -----------------------------------------------------------------------------


async def test_a_subscriber_on_one_server_gets_every_change_made_elsewhere_in_order(
    cluster: Cluster,
) -> None:
    """500 writes through B (250 creates, then 250 completions) and the worker's increments of a
    parallel merge: A's subscribers get every one, each item's frames in timestamp order."""
    async with (
        subscribed_on(cluster.a, "todo", "todos") as todos,
        subscribed_on(cluster.a, "parallelMerge", "merge-groups") as merges,
        httpx.AsyncClient(base_url=cluster.b.http_url, timeout=WAIT) as http,
    ):
        merge = await http.post("/stream-parallel-merge", json={"totalSteps": 8})
        assert merge.status_code == 200, merge.text
        created = await _gather_limited(
            [http.post("/todos", json={"description": f"todo {n}"}) for n in range(250)], 16
        )
        assert [r.status_code for r in created] == [201] * 250
        ids = [r.json()["todo"]["id"] for r in created]
        completed = await _gather_limited(
            [http.patch(f"/todos/{todo_id}/complete") for todo_id in ids], 16
        )
        assert [r.status_code for r in completed] == [200] * 250

        await todos.wait_until(
            lambda: todos.ids("create") >= set(ids) and todos.ids("update") >= set(ids),
            "a create and an update of every todo",
            WAIT,
        )
        trace_id = merge.json()["traceId"]
        await merges.wait_until(
            lambda: any(
                f["id"] == trace_id and f["event"]["data"]["completedSteps"] == 8
                for f in merges.events("update")
            ),
            "the worker's eighth increment",
            WAIT,
        )

    per_item: dict[str, list[tuple[int, str]]] = {}
    for frame in todos.frames:
        per_item.setdefault(frame["id"], []).append((frame["timestamp"], frame["event"]["type"]))
    for todo_id in ids:
        assert [kind for _, kind in per_item[todo_id]] == ["create", "update"], per_item[todo_id]
        assert per_item[todo_id][0][0] < per_item[todo_id][1][0]
    counts = [f["event"]["data"]["completedSteps"] for f in merges.events("update")]
    assert counts == list(range(1, 9)), counts  # every increment, in order, none twice


async def test_concurrent_increments_through_both_servers_add_up(cluster: Cluster) -> None:
    counter = f"c-{uuid.uuid4().hex[:8]}"
    async with (
        subscribed_on(cluster.a, "counter", "global") as subscriber,
        httpx.AsyncClient(timeout=WAIT) as http,
    ):
        servers = [cluster.a.http_url, cluster.b.http_url]
        answers = await _gather_limited(
            [
                http.post(f"{servers[n % 2]}/counters/{counter}/increment", json={"by": 1})
                for n in range(200)
            ],
            32,
        )
        assert [r.status_code for r in answers] == [200] * 200
        await subscriber.wait_until(
            lambda: any(f["event"]["data"]["value"] == 200 for f in subscriber.events("update")),
            "the counter at 200",
            WAIT,
        )
    (row,) = cluster.database.query(
        "SELECT data FROM streams_streamitem WHERE item_id = '" + counter + "'"
    )
    data = row[0] if isinstance(row[0], dict) else json.loads(row[0])
    assert data["value"] == 200


async def test_a_killed_server_loses_no_acknowledged_write(cluster: Cluster) -> None:
    """B is killed (SIGKILL) while writes through it are in flight: every write it answered 201
    is in the database and reached A's subscriber; B's client, behind a balancer, reconnects to
    A and re-syncs to the same state."""
    acknowledged: list[str] = []

    async def write_until_refused(http: httpx.AsyncClient) -> None:
        for n in range(10_000):
            try:
                response = await http.post("/todos", json={"description": f"in flight {n}"})
            except httpx.TransportError:
                return
            if response.status_code == 201:
                acknowledged.append(response.json()["todo"]["id"])

    async with (
        Balancer([cluster.b.port, cluster.a.port]) as balancer,
        StreamClient(balancer.url, min_backoff=0.1, max_backoff=0.5) as client,
        subscribed_on(cluster.a, "todo", "todos") as subscriber,
        httpx.AsyncClient(base_url=cluster.b.http_url, timeout=WAIT) as http,
    ):
        todos = client.group("todo", "todos")
        await todos.wait_for(lambda state: isinstance(state, list), WAIT)
        writers = [asyncio.create_task(write_until_refused(http)) for _ in range(8)]
        await asyncio.sleep(1.5)
        cluster.b.kill()
        await asyncio.gather(*writers)
        assert len(acknowledged) > 20, "too few writes before the kill to tell anything"

        stored = {
            row[0]
            for row in cluster.database.query(
                "SELECT i.item_id FROM streams_streamitem i"
                " JOIN streams_streamgroup g ON i.group_id = g.id"
                " WHERE g.stream_name = 'todo' AND g.group_id = 'todos'"
            )
        }
        assert set(acknowledged) <= stored, set(acknowledged) - stored
        await subscriber.wait_until(
            lambda: subscriber.ids("create") >= set(acknowledged),
            "A's subscriber to see every acknowledged create",
            WAIT,
        )
        # The client's state converges on the database's: every stored todo, acknowledged
        # or not (a write whose answer the kill cut off may have committed).
        try:
            await todos.wait_for(
                lambda state: isinstance(state, list) and {t["id"] for t in state} == stored, WAIT
            )
        except TimeoutError:
            state = {t["id"] for t in todos.state or []}
            missing, extra = len(stored - state), len(state - stored)
            pytest.fail(f"client state: {missing} stored todos missing, {extra} not stored")


def _announced(database: TestDatabase) -> int:
    """Succeeded runs of the stream-triggered step that every todo change causes."""
    return int(
        database.query(
            "SELECT count(*) FROM steps_steprun"
            " WHERE step_name = 'AnnounceTodoChange' AND status = 'succeeded'"
        )[0][0]
    )


async def test_a_redis_outage_loses_nothing_committed(cluster: Cluster) -> None:
    """Redis (the channel layer and the broker) stops and starts again. Writes answered while
    it was down are committed; when it is back, without a restart of anything, their frames
    reach the subscribers of both servers (or a fresh sync does), their stream-triggered steps
    run, and new writes flow between the servers again."""
    async with (
        subscribed_on(cluster.a, "todo", "todos") as on_a,
        subscribed_on(cluster.b, "todo", "todos") as on_b,
        httpx.AsyncClient(timeout=WAIT) as http,
    ):

        async def create(server: ServerProcess, description: str) -> str:
            response = await http.post(
                f"{server.http_url}/todos", json={"description": description}
            )
            assert response.status_code == 201, response.text
            return str(response.json()["todo"]["id"])

        before = [await create(cluster.b, f"before {n}") for n in range(3)]
        await on_a.wait_until(lambda: on_a.ids("create") >= set(before), "the first creates", WAIT)
        cluster.redis.stop()
        during = [await create(cluster.b, f"during {n}") for n in range(5)]
        await asyncio.sleep(2)
        cluster.redis.start()
        if cluster.worker.process is not None and cluster.worker.process.poll() is not None:
            # Celery's worker may exit when it loses its broker with messages in hand (kombu
            # fails to restore them on the broken connection); a supervisor starts it again,
            # and the messages it held come back after the visibility timeout.
            cluster.worker.start()
        await asyncio.sleep(1)
        after = [await create(cluster.a, f"after {n}") for n in range(3)]

        everything = set(before + during + after)

        def seen(subscriber: Subscriber) -> set[str]:
            # Frames of each create, or a sync sent since that holds the todo.
            ids = subscriber.ids("create")
            for sync in subscriber.events("sync"):
                ids |= {todo["id"] for todo in sync["event"]["data"]}
            return ids

        await on_a.wait_until(lambda: seen(on_a) >= everything, "every todo on A", 30)
        await on_b.wait_until(lambda: seen(on_b) >= everything, "every todo on B", 30)
    await eventually_async(
        lambda: _announced(cluster.database) >= len(everything),
        lambda: f"{_announced(cluster.database)} of {len(everything)} AnnounceTodoChange runs",
        30,
        interval=0.2,
    )
