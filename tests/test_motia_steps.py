"""Files written against Motia 1.0's Python API run unchanged (``tests/motia_app``, installed
in place of the examples by ``tests.motia_settings``): a real server, real HTTP and WebSocket
clients, its embedded worker and beat running the queue, cron, stream and state steps.

The server runs on the test's database (SQLite, or PostgreSQL in the services pass) with the
in-process broker, so that the embedded worker and beat run every kind of step.
"""

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from streams.client.stream_client import StreamClient
from tests.helpers.passes import needs_redis
from tests.helpers.processes import (
    EMBEDDED,
    PYTHON,
    ROOT,
    ServerProcess,
    Start,
    TestDatabase,
    WorkerProcess,
    logs_on_failure,
    server_environment,
)
from tests.helpers.waiting import eventually, eventually_async
from tests.helpers.wire import join, recv_frame

SETTINGS = {"DJANGO_SETTINGS_MODULE": "tests.motia_settings"}
WAIT = 20.0


@pytest.fixture(scope="module")
def _motia_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with (
        TestDatabase(tmp_path_factory.mktemp("motia")) as database,
        ServerProcess(database, {**EMBEDDED, **SETTINGS}, name="motia-server") as server,
    ):
        yield server


@pytest.fixture
def server(request: pytest.FixtureRequest, _motia_server: ServerProcess) -> Iterator[ServerProcess]:
    """A server of the Motia app (shared by the module), its log printed if a test failed."""
    with logs_on_failure(request, [_motia_server]):
        yield _motia_server


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.http_url, timeout=WAIT) as client:
        yield client


def runs(server: ServerProcess, step: str) -> list[tuple[str, str]]:
    """(kind, status) of the recorded runs of ``step``."""
    rows = server.database.query(
        f"SELECT kind, status FROM steps_steprun WHERE step_name = '{step}' ORDER BY id"
    )
    return [(str(kind), str(status)) for kind, status in rows]


def probe(http: httpx.Client, path: str) -> Any:
    response = http.get(f"/probe/{path}")
    assert response.status_code == 200, response.text
    return response.json()["value"]


def test_manage_py_check_passes_with_the_motia_app() -> None:
    result = subprocess.run(
        [PYTHON, "manage.py", "check"],
        cwd=ROOT,
        env=server_environment({**SETTINGS, "SQLITE_PATH": "/dev/null"}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = result.stdout + result.stderr
    assert "ERRORS" not in report
    # What a Motia file has that the engine ignores is said, with the file and the key.
    assert "tests.motia_app.misc.matched_step: (motia.W001) step 'Matched': 'input'" in report


def test_handlers_of_both_shapes_answer_as_motia_documents(http: httpx.Client) -> None:
    # async handler(request, ctx): awaited Stream and enqueue, an ApiResponse with headers.
    created = http.post("/notes", json={"id": "n1", "text": "first"})
    assert created.status_code == 201, created.text
    assert created.json() == {"id": "n1", "text": "first"}
    assert created.headers["X-Note-Id"] == "n1"
    # plain handler(request): a plain Stream call, a dict with status or status_code.
    read = http.get("/notes/n1")
    assert (read.status_code, read.json()) == (200, {"id": "n1", "text": "first"})
    missing = http.get("/notes/nope")
    assert (missing.status_code, missing.json()) == (404, {"error": "no such note"})
    # A static segment beats a parameter, whatever the order the files were found in.
    recent = http.get("/notes/recent")
    assert recent.status_code == 200 and "first" in recent.json()["recent"]


def test_a_json_schema_body_is_validated(http: httpx.Client) -> None:
    refused = http.post("/notes", json={"text": 5})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "text"]


def test_a_false_condition_answers_422_and_middleware_wraps_the_handler(
    http: httpx.Client, server: ServerProcess
) -> None:
    small = http.post("/vip", json={"amount": 5}, headers={"X-Api-Key": "open-sesame"})
    assert (small.status_code, small.json()) == (
        422,
        {"error": "Request condition not met", "skipped": True},
    )
    no_key = http.post("/vip", json={"amount": 500})
    assert (no_key.status_code, no_key.json()) == (401, {"error": "Unauthorized"})
    welcome = http.post("/vip", json={"amount": 500}, headers={"X-Api-Key": "open-sesame"})
    assert (welcome.status_code, welcome.json()) == (200, {"welcome": "u-1", "amount": 500})
    assert welcome.headers["X-Stamped"] == welcome.headers["X-Trace-Id"]
    eventually(lambda: ("http", "skipped") in runs(server, "Vip"), "a skipped Vip run", WAIT)


async def test_a_subscriber_sees_what_a_stream_call_changes(server: ServerProcess) -> None:
    async with StreamClient(server.ws_url) as client:
        wall = client.group("notes", "wall")
        await wall.wait_for(lambda state: state == [], WAIT)
        async with httpx.AsyncClient(base_url=server.http_url, timeout=WAIT) as http:
            response = await http.post("/notes", json={"id": "w1", "text": "hi", "group": "wall"})
        assert response.status_code == 201, response.text
        state = await wall.wait_for(lambda state: len(state) == 1, WAIT)
    assert state == [{"id": "w1", "text": "hi"}]


async def test_motias_python_stream_client_follows_a_group(server: ServerProcess) -> None:
    from motia.stream_client import StreamClient as MotiaStreamClient

    client = MotiaStreamClient(server.ws_url)
    await client.connect()
    try:
        states: list[Any] = []
        group = client.subscribe_group("notes", "sorted", sort_key="text")
        group.add_change_listener(states.append)
        async with httpx.AsyncClient(base_url=server.http_url, timeout=WAIT) as http:
            for note, text in (("o2", "b"), ("o1", "a")):
                body = {"id": note, "text": text, "group": "sorted"}
                assert (await http.post("/notes", json=body)).status_code == 201
        await eventually_async(lambda: len(group.get_state()) == 2, "both notes", WAIT)
        assert [item["text"] for item in group.get_state()] == ["a", "b"]
        assert states[-1] == group.get_state()
    finally:
        await client.disconnect()


async def test_on_join_refuses_a_join_and_the_state_cannot_be_joined(server: ServerProcess) -> None:
    async with websockets.connect(server.ws_url) as socket:
        await join(socket, "notes", "secret")  # a StreamConfig's on_join
        assert (await recv_frame(socket, WAIT))["event"]["type"] == "unauthorized"
        await join(socket, "rooms", "locked")  # a dict config's onJoin
        assert (await recv_frame(socket, WAIT))["event"]["type"] == "unauthorized"
        await join(socket, "rooms", "open")
        assert (await recv_frame(socket, WAIT))["event"] == {"type": "sync", "data": []}
        await join(socket, "motia-state", "profiles")
        assert (await recv_frame(socket, WAIT))["event"]["type"] == "unauthorized"


def test_queue_steps_run_from_enqueue_and_ctx_enqueue(
    http: httpx.Client, server: ServerProcess
) -> None:
    for n in (1, 2):
        response = http.post("/notes", json={"id": f"q{n}", "text": "x", "group": "queued"})
        assert response.status_code == 201, response.text
    # IndexNote (module-level enqueue): Motia's paths, one literal key, a list of segments.
    counter = eventually(
        lambda: (
            (value := probe(http, "state/counters/queued")) and value["stats.notes"] == 2 and value
        ),
        "IndexNote to count both notes",
        WAIT,
    )
    assert sorted(counter["log"]["ids"]) == ["q1", "q2"]
    # NoteIndexed (ctx.enqueue), and a topic nobody takes is no error.
    eventually(lambda: probe(http, "state/indexed/q2") == 1, "NoteIndexed to run", WAIT)
    assert set(runs(server, "IndexNote")) == {("queue", "succeeded")}
    assert set(runs(server, "NoteIndexed")) == {("queue", "succeeded")}
    assert "no step subscribes to topic 'nobody.listens'" in server.log()


def test_a_stream_trigger_runs_on_a_change(http: httpx.Client, server: ServerProcess) -> None:
    response = http.post("/notes", json={"id": "s1", "text": "watched", "group": "board"})
    assert response.status_code == 201, response.text
    seen = eventually(lambda: probe(http, "state/seen/s1"), "WatchNotes to run", WAIT)
    assert seen == {"text": "watched"}
    assert ("stream", "succeeded") in runs(server, "WatchNotes")


def test_state_keeps_any_json_and_a_state_trigger_runs_on_each_change(
    http: httpx.Client, server: ServerProcess
) -> None:
    first = http.put("/profiles/p1", json={"name": "Ada"})
    assert first.json() == {
        "previous": None,
        "result": {"old_value": None, "new_value": {"name": "Ada"}},
    }
    second = http.put("/profiles/p1", json={"name": "Ada", "role": "admin"})
    assert second.json()["previous"] == {"name": "Ada"}
    assert http.get("/profiles/p1").json() == {"profile": {"name": "Ada", "role": "admin"}}
    assert http.get("/profiles/nobody").status_code == 404
    # Any JSON value, and get gives exactly what was set.
    assert http.put("/profiles/p2", json="just text").status_code == 200
    assert http.get("/profiles/p2").json() == {"profile": "just text"}
    # ProfileChanged saw each change, with the old and the new value.
    created = eventually(
        lambda: probe(http, "stream/profile_changes/p1/state:created"), "the first change", WAIT
    )
    assert created == {"id": "state:created", "old": None, "new": {"name": "Ada"}}
    updated = eventually(
        lambda: probe(http, "stream/profile_changes/p1/state:updated"), "the second change", WAIT
    )
    assert updated == {
        "id": "state:updated",
        "old": {"name": "Ada"},
        "new": {"name": "Ada", "role": "admin"},
    }
    eventually(lambda: len(runs(server, "ProfileChanged")) >= 3, "three state runs", WAIT)
    assert set(runs(server, "ProfileChanged")) == {("state", "succeeded")}


def test_a_six_field_cron_fires_every_second_in_the_embedded_beat(
    http: httpx.Client, server: ServerProcess
) -> None:
    eventually(
        lambda: ((probe(http, "state/pulse/beats") or {}).get("count", 0)) >= 2,
        "Pulse to fire twice",
        WAIT,
    )
    assert ("cron", "succeeded") in runs(server, "Pulse")


def test_a_multi_trigger_step_runs_its_http_and_its_queue_handler(http: httpx.Client) -> None:
    response = http.post("/multi", json={})
    assert (response.status_code, response.json()) == (202, {"queued": True, "trigger": "/multi"})
    last = eventually(lambda: probe(http, "state/multi/last"), "the queue handler", WAIT)
    assert last == {"data": {"from": "http"}, "topic": "multi.again"}


def test_ctx_match_in_a_plain_handler_and_motias_update_paths(http: httpx.Client) -> None:
    http.post("/hits/h1", params={"who": "ann"})
    response = http.post("/hits/h1", params={"who": "bob"})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": "h1", "stats.views": 2, "log": {"who": ["ann", "bob"]}}


def test_an_answer_is_streamed_as_the_handler_writes_it(
    http: httpx.Client, server: ServerProcess
) -> None:
    with http.stream("POST", "/ticker", data={"name": "Ada"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        lines = response.iter_lines()
        first = [next(lines), next(lines)]
        # The handler waits for this before it writes the rest: the first event came alone.
        assert http.post("/ticker/go").status_code == 204
        rest = [line for line in lines if line]
    assert first == ["event: first", "data: Ada"]
    assert rest == ["event: second", "data: done"]
    eventually(lambda: ("http", "succeeded") in runs(server, "Ticker"), "the Ticker run", WAIT)


def test_the_run_records_its_logs(http: httpx.Client, server: ServerProcess) -> None:
    response = http.post("/notes", json={"id": "l1", "text": "logged"})
    trace = response.headers["X-Trace-Id"]

    def logged() -> list[Any]:
        rows = server.database.query(
            "SELECT logs FROM steps_steprun WHERE step_name = 'CreateNote' "
            f"AND trace_id = '{trace}'"
        )
        return [json.loads(logs) if isinstance(logs, str) else logs for (logs,) in rows]

    (logs,) = eventually(logged, "the CreateNote run", WAIT)
    assert logs[0]["msg"] == "note created" and logs[0]["fields"] == {"id": "l1", "trace": trace}


@needs_redis
def test_motia_steps_run_in_a_celery_worker_process(database: TestDatabase, start: Start) -> None:
    """The production topology: a server and a ``celery worker`` process on Redis, each
    loading the Motia files."""
    env = {**SETTINGS, **database.own_queue}
    server = start(ServerProcess(database, env, name="motia-web"))
    worker = start(WorkerProcess(database, env, "w1"))
    with httpx.Client(base_url=server.http_url, timeout=WAIT) as http:
        created = http.post("/notes", json={"id": "c1", "text": "x", "group": "celery"})
        assert created.status_code == 201, created.text
        assert http.put("/profiles/c1", json={"on": "celery"}).status_code == 200
        eventually(
            lambda: (probe(http, "state/counters/celery") or {}).get("stats.notes") == 1,
            "IndexNote, in the worker",
            WAIT,
        )
        eventually(
            lambda: probe(http, "stream/profile_changes/c1/state:created"),
            "ProfileChanged, in the worker",
            WAIT,
        )
    steps = ("IndexNote", "NoteIndexed", "WatchNotes", "ProfileChanged")

    def worked() -> list[tuple[str, str, str]]:
        listed = ", ".join(f"'{step}'" for step in steps)
        rows = database.query(
            f"SELECT step_name, kind, worker FROM steps_steprun WHERE step_name IN ({listed})"
        )
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    runs_seen = eventually(lambda: len(worked()) >= len(steps) and worked(), "the runs", WAIT)
    assert {step for step, _, _ in runs_seen} == set(steps)
    assert {host for _, _, host in runs_seen} == {worker.hostname}
