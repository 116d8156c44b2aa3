"""The stream socket under every ASGI server the project is known to run on.

ASGI leaves what ``send`` returns to the server: uvicorn, daphne and hypercorn return
coroutines, granian a future of its own; and daphne refuses to send a message over 1 MiB
unless told otherwise. Each server here carries a subscriber's sync and then every change,
none dropped: 200 todos created, 200 ``create`` frames received; then a sync of 2 MB in one
frame to a client that takes no pages (as Motia's).
"""

import asyncio

import pytest

from tests.helpers.passes import embedded_pass_only
from tests.helpers.processes import ServerProcess, Start, TestDatabase
from tests.helpers.wire import subscribed

# What this file checks does not depend on the database or the channel layer: it runs once,
# in the embedded pass.
pytestmark = embedded_pass_only

WAIT = 30.0
TODOS = 200
LARGE = 500_000  # four of them: a sync of 2 MB
SERVERS = ["runserver", "uvicorn", "granian", "hypercorn"]


@pytest.mark.parametrize("asgi_server", SERVERS)
async def test_a_subscriber_gets_every_frame(
    asgi_server: str, database: TestDatabase, start: Start
) -> None:
    server = start(
        ServerProcess(
            database,
            {"LOG_LEVEL": "WARNING"},
            asgi_server=None if asgi_server == "runserver" else asgi_server,
        )
    )
    async with (
        subscribed(server.ws_url, "todo", "todos", timeout=WAIT) as subscriber,
        server.http_client(WAIT) as http,
    ):
        assert subscriber.sync["event"]["data"] == []
        made: set[str] = set()
        for n in range(TODOS):
            response = await http.post("/todos", json={"description": f"todo {n}"})
            assert response.status_code == 201, response.text
            made.add(response.json()["todo"]["id"])

        await subscriber.wait_until(
            lambda: subscriber.ids("create") == made,
            lambda: f"{len(subscriber.ids('create'))} of {TODOS} todos seen",
            WAIT,
        )
        for n in range(4):
            response = await http.post("/todos", json={"description": f"{n} " + "x" * LARGE})
            assert response.status_code == 201, response.text
            made.add(response.json()["todo"]["id"])
        async with subscribed(server.ws_url, "todo", "todos", timeout=WAIT) as late:
            assert {todo["id"] for todo in late.sync["event"]["data"]} == made
    await asyncio.sleep(0)
    assert "Traceback" not in server.log(), server.log()
