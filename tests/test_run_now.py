"""Running a step now, by hand: ``manage.py enqueue TOPIC JSON`` and ``manage.py run_cron
STEP`` (``steps.running.manual``, ``steps.management.running``).

Bad input is refused before anything is sent, with a message naming the problem and a non-zero
exit. On the embedded broker the command runs the steps in its own process and waits for them
(a running embedded server's subscribers then see the changes on their next join); with a real
broker the command only sends, and a worker runs them.
"""

import asyncio
import json
import subprocess
import uuid
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from steps.models import StepRun, TraceEvent
from tests.helpers.passes import needs_redis
from tests.helpers.processes import (
    EMBEDDED,
    PYTHON,
    ROOT,
    ServerProcess,
    Start,
    TestDatabase,
    WorkerProcess,
    free_port,
    server_environment,
)
from tests.helpers.waiting import eventually
from tests.helpers.wire import subscribed

WAIT = 15.0
COMMAND_TIMEOUT = 90


def manage(database: TestDatabase, *args: str, env: dict[str, str] | None = None) -> Any:
    """Run ``manage.py ARGS`` on ``database`` (the embedded broker unless ``env`` says)."""
    extra = {**database.env, **(env if env is not None else EMBEDDED)}
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=server_environment(extra),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )


# --- bad input: nothing is sent ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["enqueue", "todo.announce", '{"message": '], "invalid JSON: Expecting value: line 1"),
        (
            ["enqueue", "todo.announce", '{"text": "hi"}'],
            "invalid message for topic 'todo.announce': message: Field required "
            "(the input of step 'AnnounceTodoChange')",
        ),
        (
            ["enqueue", "nobody.listens", "{}"],
            "no step subscribes to topic 'nobody.listens' (topics: step.process, todo.announce)",
        ),
        (
            ["enqueue", "todo.announce", '{"message": "hi"}', "--trace-id", "a b"],
            "invalid trace id 'a b'",
        ),
        (
            ["run_cron", "CreateTodo"],
            "step 'CreateTodo' has no cron trigger (cron steps: CollectSystemMetrics)",
        ),
        (["run_cron", "Nope"], "no step named 'Nope' (cron steps: CollectSystemMetrics)"),
    ],
)
def test_bad_input_is_refused_naming_the_problem(args: list[str], message: str) -> None:
    with pytest.raises(CommandError) as refused:
        call_command(*args, stdout=StringIO())
    assert message in str(refused.value)
    assert not TraceEvent.objects.exists() and not StepRun.objects.exists()


def test_a_refused_command_exits_non_zero(database: TestDatabase) -> None:
    result = manage(database, "enqueue", "step.process", '{"traceId": "x", "stepIndex": "two"}')
    assert result.returncode == 1
    assert "stepIndex: Input should be a valid integer" in result.stderr
    assert database.query("SELECT COUNT(*) FROM steps_traceevent") == [(0,)]


# --- the embedded broker: the command runs the steps itself --------------------------------------


def test_enqueue_runs_the_steps_here_and_reports_their_runs(database: TestDatabase) -> None:
    trace = f"cmd-{uuid.uuid4().hex[:8]}"
    result = manage(database, "enqueue", "todo.announce", '{"message": "hi"}', "--trace-id", trace)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Sent topic todo.announce: runs AnnounceTodoChange" in out
    assert f"Trace {trace}: /dashboard/traces/{trace}/" in out
    assert "running it here, in this command's own worker" in out
    assert "AnnounceTodoChange  queue  attempt 0  succeeded" in out
    assert "see them on their next join" in out
    # Recorded for the trace: the enqueue (by whom), the run, the change it made.
    rows = database.query(
        f"SELECT kind, step_name, detail_json FROM steps_traceevent WHERE trace_id = '{trace}' "
        "ORDER BY id"
    )
    kinds = [(kind, json.loads(detail)) for kind, _, detail in rows]
    assert kinds[0] == (
        "enqueue",
        {
            "topic": "todo.announce",
            "steps": ["AnnounceTodoChange"],
            "data": '{"message":"hi"}',
            "origin": "manage.py enqueue",
        },
    )
    assert kinds[1][0] == "change" and kinds[1][1]["stream"] == "notifications"
    runs = database.query(f"SELECT step_name, status FROM steps_steprun WHERE trace_id = '{trace}'")
    assert runs == [("AnnounceTodoChange", "succeeded")]


@pytest.fixture
def quiet_server(database: TestDatabase, start: Start) -> ServerProcess:
    """An embedded server whose beat fires no cron step on its own."""
    return start(ServerProcess(database, {**EMBEDDED, "STEPS_EMBEDDED_BEAT": "0"}))


async def test_run_cron_runs_here_and_a_running_embedded_server_shows_it_on_the_next_join(
    database: TestDatabase, quiet_server: ServerProcess
) -> None:
    url = quiet_server.ws_url
    async with subscribed(url, "metrics", "system-metrics", timeout=WAIT) as live:
        assert live.sync["event"]["data"] == []
        result = await asyncio.to_thread(manage, database, "run_cron", "CollectSystemMetrics")
        assert result.returncode == 0, result.stderr
        assert "Sent cron */15 * * * * *: runs CollectSystemMetrics" in result.stdout
        assert "CollectSystemMetrics  cron  attempt 0  succeeded" in result.stdout
        # The change is in the database: a join reads it ...
        async with subscribed(url, "metrics", "system-metrics", timeout=WAIT) as joined:
            (item,) = joined.sync["event"]["data"]
            assert set(item) >= {"collectedAt", "load", "maxRssKb"}
        # ... while the server's live subscribers heard nothing: the embedded server's
        # in-memory layer is its own process's (as the command's output says).
        assert live.frames == []
    runs = database.query("SELECT kind, status, detail FROM steps_steprun")
    ((kind, status, detail),) = runs
    assert (kind, status) == ("cron", "succeeded")
    detail = json.loads(detail) if isinstance(detail, str) else detail
    assert detail == {"expression": "*/15 * * * * *", "origin": "manage.py run_cron"}


# --- a real broker: the command sends, the workers run -------------------------------------------


@needs_redis
def test_with_a_real_broker_the_command_only_sends_and_a_worker_runs_it(
    database: TestDatabase, start: Start
) -> None:
    queue = database.own_queue  # REDIS_URL comes from our environment
    trace = f"cmd-{uuid.uuid4().hex[:8]}"
    result = manage(database, "run_cron", "CollectSystemMetrics", "--trace-id", trace, env=queue)
    assert result.returncode == 0, result.stderr
    assert "The broker's workers run it" in result.stdout
    assert "running it here" not in result.stdout
    start(WorkerProcess(database, queue))
    sql = f"SELECT step_name, status FROM steps_steprun WHERE trace_id = '{trace}'"
    eventually(
        lambda: database.query(sql) == [("CollectSystemMetrics", "succeeded")],
        "the worker's run of the cron step",
        WAIT,
    )


def test_a_broker_that_cannot_be_reached_is_refused_before_anything_is_sent(
    database: TestDatabase,
) -> None:
    nothing_there = f"redis://127.0.0.1:{free_port()}/0"
    env = {"CELERY_BROKER_URL": nothing_there, "STEPS_HEALTH_CHECK_TIMEOUT": "1"}
    result = manage(database, "enqueue", "todo.announce", '{"message": "hi"}', env=env)
    assert result.returncode == 1
    assert "the broker cannot be reached" in result.stderr
    assert database.query("SELECT COUNT(*) FROM steps_traceevent") == [(0,)]
