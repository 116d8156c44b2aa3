"""Re-driving dead letters never loses a message: a letter is marked re-driven once the broker
took its message for a worker that runs it; otherwise ``manage.py redrive`` refuses, naming
why, and leaves every letter as it was.

In this process (its worker running, on the configured broker): unknown ids and steps, and
letters of steps the project no longer defines. In real processes: the command beside a
server on the embedded default (the command's in-process broker reaches no other process: it
runs the message in a worker of its own and waits for it; the server's admin re-drives in the
server, to its live subscribers), and a broker that refuses messages.
"""

import contextlib
import json
import re
import subprocess
from collections.abc import Mapping
from io import StringIO
from typing import Any

import httpx
import pytest
import websockets
from django.core.management import call_command
from django.core.management.base import CommandError

from steps.models import DeadLetter
from tests.helpers.processes import (
    EMBEDDED,
    PYTHON,
    ROOT,
    ServerProcess,
    Start,
    TestDatabase,
    free_port,
    server_environment,
)
from tests.helpers.wire import join, recv_frame

# An example's queue trigger: AnnounceTodoChange tells the notifications group "todos".
STEP, TRIGGER, TOPIC = "AnnounceTodoChange", 1, "todo.announce"


def _payload(message: str) -> dict[str, Any]:
    return {"kind": "queue", "trigger": TRIGGER, "topic": TOPIC, "data": {"message": message}}


# --- in this process --------------------------------------------------------------------------


def _letter(step: str = STEP) -> DeadLetter:
    return DeadLetter.objects.create(
        step_name=step,
        kind="queue",
        topic=TOPIC,
        payload=_payload("hello"),
        trace_id="trace-redrive",
        attempts=4,
        error="RuntimeError: upstream down",
    )


def _redrive(*args: str) -> str:
    out = StringIO()
    call_command("redrive", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("worker")
def test_unknown_ids_are_named_and_nothing_is_redriven() -> None:
    letter = _letter()
    with pytest.raises(CommandError, match=r"^no dead letter with id 999, 1000$"):
        _redrive(str(letter.pk), "999", "1000")
    with pytest.raises(
        CommandError, match=rf"^no dead letter of step 'CreateTodo' with id {letter.pk}$"
    ):
        _redrive(str(letter.pk), "--step", "CreateTodo")
    letter.refresh_from_db()
    assert letter.redriven_at is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("worker")
def test_an_unknown_step_is_named() -> None:
    letter = _letter()
    with pytest.raises(CommandError, match=r"^no step named 'Nope' in this project$"):
        _redrive("--step", "Nope")
    letter.refresh_from_db()
    assert letter.redriven_at is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("worker")
def test_letters_of_a_step_the_project_no_longer_defines_are_refused() -> None:
    gone, kept = _letter(step="RemovedStep"), _letter()
    with pytest.raises(CommandError) as refused:
        _redrive("--all")
    assert str(refused.value) == (
        f"dead letter(s) {gone.pk} are of steps or triggers this project does not define "
        "(RemovedStep): their runs would fail again"
    )
    assert not DeadLetter.objects.filter(redriven_at__isnull=False).exists()
    assert _redrive(str(kept.pk)).startswith("re-drove 1 dead letter(s)\n")


# --- real processes ---------------------------------------------------------------------------


def _dead_letter(database: TestDatabase, message: str) -> int:
    """A dead letter written into the test's database, as a worker leaves one; its id."""
    payload = json.dumps(_payload(message)).replace("'", "''")
    rows = database.query(
        "INSERT INTO steps_deadletter (step_name, kind, topic, payload, trace_id, attempts,"
        " error, traceback, created_at)"
        f" VALUES ('{STEP}', 'queue', '{TOPIC}', '{payload}', 'trace-redrive', 4,"
        " 'RuntimeError: upstream down', '', CURRENT_TIMESTAMP) RETURNING id"
    )
    return int(rows[0][0])


def _redriven(database: TestDatabase, letter: int) -> bool:
    rows = database.query(f"SELECT redriven_at FROM steps_deadletter WHERE id = {letter}")
    return rows[0][0] is not None


def _manage(
    database: TestDatabase, env: Mapping[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """``manage.py`` run on the test's database, as an operator runs it beside the servers."""
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=server_environment({**database.env, **env}),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _admin_client(server: ServerProcess, database: TestDatabase) -> httpx.Client:
    """A client signed in to the server's admin as a new superuser."""
    password = "redrive-test-password"
    created = _manage(
        database,
        {**EMBEDDED, "DJANGO_SUPERUSER_PASSWORD": password},
        *("createsuperuser", "--noinput", "--username", "ops", "--email", "ops@example.com"),
    )
    assert created.returncode == 0, created.stderr
    client = httpx.Client(base_url=server.http_url, timeout=30)
    form = client.get("/admin/login/").text
    signed_in = client.post(
        "/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": _csrf(form), "username": "ops", "password": password},
    )
    assert signed_in.status_code == 302, signed_in.text
    return client


def _csrf(page: str) -> str:
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None, page
    return token.group(1)


async def _announcement(socket: websockets.ClientConnection) -> dict[str, Any]:
    """The data of the next custom event of the notifications group."""
    while True:
        frame = await recv_frame(socket, 30)
        if frame["event"].get("type") == "todo":
            return dict(frame["event"]["data"])
        event = frame["event"].get("event")
        if isinstance(event, dict) and event.get("type") == "todo":
            return dict(event["data"])


async def test_beside_a_server_on_the_embedded_default_the_command_runs_it_and_the_admin_too(
    database: TestDatabase, start: Start
) -> None:
    """The command's in-process broker reaches no other process: the command runs the message
    in a worker of its own, waits for its run and reports it. The admin of the server, whose
    embedded worker takes what it sends, re-drives another: the step runs there, and the
    server's live subscribers see what it does."""
    server = start(ServerProcess(database, EMBEDDED))
    by_command = _dead_letter(database, "re-driven by the command")

    ran = _manage(database, EMBEDDED, "redrive", str(by_command))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "re-drove 1 dead letter(s)" in ran.stdout
    assert "running it here, in this command's own worker" in ran.stdout
    assert f"{STEP}  queue  attempt 0  succeeded" in ran.stdout
    assert _redriven(database, by_command)
    again = _manage(database, EMBEDDED, "redrive", "--all")
    assert (again.returncode, again.stdout) == (0, "re-drove 0 dead letter(s)\n"), again.stderr

    letter = _dead_letter(database, "re-driven from the admin")
    async with websockets.connect(server.ws_url) as socket:
        await join(socket, "notifications", "todos")
        assert (await recv_frame(socket, 30))["event"]["type"] == "sync"
        with contextlib.closing(_admin_client(server, database)) as admin:
            listing = admin.get("/admin/steps/deadletter/")
            done = admin.post(
                "/admin/steps/deadletter/",
                data={
                    "csrfmiddlewaretoken": _csrf(listing.text),
                    "action": "redrive_selected",
                    "_selected_action": [str(letter)],
                },
                follow_redirects=True,
            )
        assert "Re-drove 1 message(s)." in done.text, done.text
        assert await _announcement(socket) == {
            "change": "announcement",
            "message": "re-driven from the admin",
        }
    assert _redriven(database, letter)


def test_a_broker_that_refuses_the_message_leaves_the_letter_as_it_was(
    database: TestDatabase,
) -> None:
    letter = _dead_letter(database, "never sent")
    nobody = {"CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"}
    refused = _manage(database, nobody, "redrive", "--all")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert (
        f"re-drove 0 dead letter(s); the broker refused the message of dead letter {letter}"
        in refused.stderr
    )
    assert "Traceback" not in refused.stderr
    assert not _redriven(database, letter)
