"""End to end: steps, joins and queued runs while the database refuses connections, and once
it accepts them again.

A real server and a real ``celery -A motia_site worker`` run the example parallel merge on
PostgreSQL and Redis: ``POST /stream-parallel-merge`` enqueues one ``step.process`` message per
unit of work, and each run of ``StreamStepProcess`` counts its unit into the merge item. While
they run, the test's own database refuses every connection for a while (and the open ones are
ended), as a database server that went away would. When it is back, every message ran exactly
once (its unit counted once, its run recorded) or is a dead letter naming the error, never
both and never neither. And once the database is back (after a restart that ended every
session, or after an outage), the first requests and joins succeed.

Needs PostgreSQL and Redis (the services pass of ``make test``); the embedded pass skips it.
"""

import asyncio
import contextlib
import json
import time
from typing import Any

import httpx
import pytest
import websockets

from tests.helpers.passes import needs_services
from tests.helpers.processes import ServerProcess, Start, TestDatabase, WorkerProcess
from tests.helpers.waiting import eventually, eventually_async
from tests.helpers.wire import join, recv_frame

UNITS = 16  # step.process messages; each runs a second (the guide's simulated work)
OUTAGE = 30.0  # seconds the database refuses connections: longer than 4 attempts take
FINISH_WAIT = 60.0  # seconds for every message to end once the database is back
POLL = 0.5


pytestmark = needs_services


def _processes(database: TestDatabase, start: Start) -> ServerProcess:
    """A server and a worker; queries wait at most a second for a connection, so that runs
    fail (and are retried, then dead-lettered) within the outage rather than wait it out."""
    env = {**database.own_queue, "DATABASE_POOL_TIMEOUT": "1"}
    server = start(ServerProcess(database, env))
    start(WorkerProcess(database, env, concurrency=4))
    return server


def _terminal_runs(database: TestDatabase) -> list[tuple[str, list[dict[str, object]]]]:
    """(status, logs) of every StreamStepProcess run that ended its message."""
    rows = database.query(
        "SELECT status, logs FROM steps_steprun"
        " WHERE step_name = 'StreamStepProcess' AND status IN ('succeeded', 'failed')"
    )
    return [(status, logs if isinstance(logs, list) else json.loads(logs)) for status, logs in rows]


def _dead_letters(database: TestDatabase) -> list[tuple[dict[str, Any], str, int]]:
    rows = database.query(
        "SELECT payload, error, attempts FROM steps_deadletter"
        " WHERE step_name = 'StreamStepProcess'"
    )
    return [(p if isinstance(p, dict) else json.loads(p), e, a) for p, e, a in rows]


def _completed_steps(database: TestDatabase, trace_id: str) -> int:
    (data,) = database.query(
        "SELECT data FROM streams_streamitem i JOIN streams_streamgroup g ON i.group_id = g.id"
        f" WHERE g.stream_name = 'parallelMerge' AND i.item_id = '{trace_id}'"
    )[0]
    return int((data if isinstance(data, dict) else json.loads(data))["completedSteps"])


def _unit(logs: list[dict[str, object]]) -> int:
    """The unit a succeeded run counted, from what its handler logged."""
    (done,) = [record for record in logs if record.get("msg") == "Step completed"]
    fields = done.get("fields")
    assert isinstance(fields, dict), done
    return int(fields["stepIndex"])


@pytest.mark.timeout(180)
def test_every_message_runs_once_or_is_a_dead_letter_across_a_database_outage(
    database: TestDatabase, start: Start
) -> None:
    server = _processes(database, start)
    response = httpx.post(
        f"{server.http_url}/stream-parallel-merge", json={"totalSteps": UNITS}, timeout=10
    )
    assert response.status_code == 200, response.text
    trace_id = response.json()["traceId"]

    time.sleep(1.5)  # the first runs are in their second of work
    database.refuse_connections()
    try:
        time.sleep(OUTAGE)
    finally:
        database.accept_connections()

    def every_message_ended() -> tuple[list, list] | None:
        runs, letters = _terminal_runs(database), _dead_letters(database)
        ended = len(runs) >= UNITS and len(letters) == sum(s == "failed" for s, _ in runs)
        return (runs, letters) if ended else None

    runs, letters = eventually(
        every_message_ended,
        lambda: (
            f"{len(_terminal_runs(database))} messages ended, "
            f"{len(_dead_letters(database))} dead letters"
        ),
        FINISH_WAIT,
        interval=POLL,
    )

    succeeded = sorted(_unit(logs) for status, logs in runs if status == "succeeded")
    dead = sorted(int(payload["data"]["stepIndex"]) for payload, _, _ in letters)
    # Every unit exactly once: counted by one succeeded run, or a dead letter.
    assert sorted(succeeded + dead) == list(range(UNITS)), (succeeded, dead)
    assert _completed_steps(database, trace_id) == len(succeeded)
    for _, error, attempts in letters:
        assert "OperationalError" in error or "PoolTimeout" in error, error
        assert attempts == 4, attempts  # the first run and its 3 retries
    # The outage did something: some runs failed and were retried (or dead-lettered).
    retried = database.query(
        "SELECT count(*) FROM steps_steprun"
        " WHERE step_name = 'StreamStepProcess' AND status = 'retrying'"
    )[0][0]
    assert retried > 0 or dead, "the outage failed no run"


async def _join(socket: websockets.ClientConnection, group: str) -> dict[str, Any]:
    await join(socket, "counter", group, subscription=group)
    return await recv_frame(socket, 30)


async def test_a_join_the_database_cannot_answer_gets_an_error_and_the_socket_goes_on(
    database: TestDatabase, start: Start
) -> None:
    server = start(ServerProcess(database, {"DATABASE_POOL_TIMEOUT": "1"}))
    async with websockets.connect(server.ws_url) as socket:
        assert (await _join(socket, "before"))["event"]["type"] == "sync"
        database.refuse_connections()
        try:
            refused = await _join(socket, "during")
        finally:
            database.accept_connections()
        assert refused["groupId"] == "during"
        assert refused["event"] == {
            "type": "error",
            "data": {
                "code": "unavailable",
                "message": "the group could not be read: join again later",
            },
        }

        # The same socket joins once the database is back (a first attempt may meet a
        # connection the outage ended, and be told so again).
        async def joined() -> dict[str, Any] | None:
            frame = await _join(socket, "during")
            return frame if frame["event"]["type"] != "error" else None

        again = await eventually_async(joined, "a join once the database is back", 10, 0.1)
        assert (again["event"]["type"], again["event"]["data"]) == ("sync", [])


# --- once the database is back ---------------------------------------------------------------

BURST = 24  # requests (and as many joins) at once: every database thread of the server
# Seconds a request waits for a connection before it fails: the server must connect again this
# soon after the database is back. psycopg_pool's own schedule tries again 1, 3, 7, 15 s after
# its first attempt failed: the requests right after an outage of 8 s would wait 7 s.
POOL_TIMEOUT = "2"
OUTAGE_SECONDS = 8.0


async def _knock(http: httpx.AsyncClient, stop: asyncio.Event) -> None:
    """Requests while the database is away, one after another (they fail): the server keeps
    trying to connect, as it does while users keep coming."""
    while not stop.is_set():
        with contextlib.suppress(httpx.HTTPError):
            await http.post("/todos", json={"description": "meanwhile"})
        await asyncio.sleep(0.1)


async def _burst(
    http: httpx.AsyncClient, socket: websockets.ClientConnection, label: str
) -> tuple[list[int], list[str]]:
    """``BURST`` todos created and as many groups joined at once: the statuses of the
    requests, and the kinds of frame that answered the joins."""
    groups = [f"{label}-{n}" for n in range(BURST)]
    for group in groups:
        await join(socket, "counter", group, subscription=group)
    posts = [http.post("/todos", json={"description": f"{label} {n}"}) for n in range(BURST)]
    responses = await asyncio.gather(*posts)
    answers: dict[str, str] = {}
    while len(answers) < BURST:
        frame = await recv_frame(socket, 30)
        answers[frame["groupId"]] = frame["event"]["type"]
    return [r.status_code for r in responses], [answers[group] for group in groups]


@pytest.mark.timeout(120)
async def test_steps_and_joins_succeed_as_soon_as_the_database_is_back(
    database: TestDatabase, start: Start
) -> None:
    """The server keeps its connections between requests: the database restarting ends them
    all, and each must be found dead and replaced before a request uses it; after an outage,
    the server must connect again as soon as the database is back."""
    env = {**database.own_queue, "DATABASE_POOL_TIMEOUT": POOL_TIMEOUT}
    server = start(ServerProcess(database, env, production=True))
    async with server.http_client(30) as http, websockets.connect(server.ws_url) as socket:
        # Every database thread holds a connection, as a server that has been serving does.
        assert await _burst(http, socket, "warm") == ([201] * BURST, ["sync"] * BURST)

        # A restart: every session ended, connections accepted again at once.
        await asyncio.to_thread(database.refuse_connections)
        await asyncio.to_thread(database.accept_connections)
        assert await _burst(http, socket, "restarted") == ([201] * BURST, ["sync"] * BURST)

        # An outage, with requests meanwhile: connections refused for a while, then accepted.
        await asyncio.to_thread(database.refuse_connections)
        stop = asyncio.Event()
        knocking = asyncio.ensure_future(_knock(http, stop))
        await asyncio.sleep(OUTAGE_SECONDS)
        await asyncio.to_thread(database.accept_connections)
        stop.set()
        assert await _burst(http, socket, "back") == ([201] * BURST, ["sync"] * BURST)
        await knocking
