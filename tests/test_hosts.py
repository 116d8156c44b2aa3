"""Step endpoints and stream sockets answer only the host names the site answers to.

A page that points a name of its own at a server on localhost or an intranet (DNS rebinding)
sends that name as ``Host``. Pages are refused by Django's middleware; step endpoints and
stream sockets skip it, and are refused by :mod:`streams.sockets.hosts`, Django's rule. The rule is
tested directly; the rest runs against real servers: runserver (DEBUG on) and uvicorn as
production runs it (DEBUG off), reached at 127.0.0.1 under another name, as a rebound page
reaches them.
"""

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
import websockets
from django.conf import settings
from django.test import override_settings
from websockets.exceptions import InvalidStatus

from streams.sockets.hosts import host_allowed, refused_host, request_host
from streams.sockets.tokens import issue_token
from tests.helpers.deployment import LOCAL_PLAIN_HTTP, SECRET_KEY
from tests.helpers.passes import embedded_pass_only
from tests.helpers.processes import AUTHENTICATE, ServerProcess, TestDatabase, logs_on_failure
from tests.helpers.wire import join, recv_frame

# What this file checks does not depend on the database or the channel layer: it runs once,
# in the embedded pass.
pytestmark = embedded_pass_only

LOCAL = ["127.0.0.1", "localhost", "[::1]"]


@pytest.mark.parametrize(
    ("allowed_hosts", "debug", "host", "allowed"),
    [
        (LOCAL, False, "127.0.0.1:8000", True),
        (LOCAL, False, "localhost", True),
        (LOCAL, False, "[::1]:8000", True),
        (LOCAL, False, "attacker.example", False),
        (LOCAL, False, "attacker.example:8000", False),
        (LOCAL, False, "127.0.0.1.attacker.example", False),
        (LOCAL, False, "", False),
        (LOCAL, False, "127.0.0.1,attacker.example", False),  # two Host headers
        ([".example.com"], False, "api.example.com", True),
        (["*"], False, "anything.example", True),
        # A new project (startproject): DEBUG on, no ALLOWED_HOSTS. Django allows local names.
        ([], True, "localhost:8000", True),
        ([], True, "app.localhost", True),
        ([], True, "127.0.0.1:8000", True),
        ([], True, "[::1]:8000", True),
        ([], True, "attacker.example", False),
        ([], False, "localhost", False),  # DEBUG off: nothing
        (["app.example.com"], True, "localhost", False),  # hosts set: only those
    ],
)
def test_host_rule(allowed_hosts: list[str], debug: bool, host: str, allowed: bool) -> None:
    with override_settings(ALLOWED_HOSTS=allowed_hosts, DEBUG=debug):
        assert host_allowed(host) is allowed


def test_the_host_is_read_as_django_reads_it() -> None:
    scope = {
        "headers": [(b"host", b"127.0.0.1:8000"), (b"x-forwarded-host", b"app.example.com")],
        "server": ("10.0.0.1", 8000),
    }
    assert request_host(scope) == "127.0.0.1:8000"
    with override_settings(USE_X_FORWARDED_HOST=True):
        assert request_host(scope) == "app.example.com"
    assert request_host({"headers": [], "server": ("10.0.0.1", 8000)}) == "10.0.0.1:8000"
    twice = {"headers": [(b"host", b"127.0.0.1"), (b"host", b"attacker.example")]}
    assert request_host(twice) == "127.0.0.1,attacker.example"
    assert refused_host(twice) is not None
    # In-process callers (Channels' WebsocketCommunicator) give no host at all: nothing to
    # check. A server always gives its own address.
    assert request_host({"headers": []}) is None
    assert refused_host({"headers": []}) is None


# --- real servers ---------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["runserver", "uvicorn"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """runserver (DEBUG on) and uvicorn as in production (DEBUG off), both on the default
    ALLOWED_HOSTS of the site (127.0.0.1, localhost) and checking stream tokens."""
    production = request.param == "uvicorn"
    env = {**AUTHENTICATE, "LOG_LEVEL": "INFO", **(LOCAL_PLAIN_HTTP if production else {})}
    with (
        TestDatabase(tmp_path_factory.mktemp(request.param)) as database,
        ServerProcess(database, env, name=request.param, production=production) as server,
        logs_on_failure(request, [server]),
    ):
        yield server


def rebound(server: ServerProcess) -> dict[str, str]:
    """The Host a page of another name sends once that name points at the server."""
    return {"Host": f"attacker.example:{server.port}"}


async def test_a_step_endpoint_refuses_another_host_and_changes_nothing(
    server: ServerProcess,
) -> None:
    async with server.http_client(10) as http:
        refused = await http.post(
            "/todos", json={"description": "rebound"}, headers=rebound(server)
        )
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"] == "application/json"
        assert "attacker.example" in refused.json()["detail"]
        read = await http.get("/todos", headers=rebound(server))
        assert read.status_code == 400
        assert "todos" not in read.text
        # Paths that match no step route are refused for their host first, as pages are.
        assert (await http.delete("/todos/", headers=rebound(server))).status_code == 400
        # Nothing was created; the names the site answers to are served.
        todos = (await http.get("/todos")).json()["todos"]
        assert [t for t in todos if t["description"] == "rebound"] == []
        local = {"Host": f"localhost:{server.port}"}
        created = await http.post("/todos", json={"description": "local"}, headers=local)
        assert created.status_code == 201, created.text
        # Pages keep Django's own refusal.
        assert (await http.get("/", headers=rebound(server))).status_code == 400


async def test_the_health_check_answers_any_host(server: ServerProcess) -> None:
    """Load balancers call it by address, which is not one of ALLOWED_HOSTS (with the checks
    docs/production.md has them ask for: no worker runs in the services pass)."""
    async with server.http_client(10) as http:
        health = await http.get(
            "/healthz?checks=database,channel_layer",
            headers={"Host": f"10.1.2.3:{server.port}"},
        )
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok"


async def test_a_handshake_for_another_host_is_refused_before_any_hook(
    server: ServerProcess,
) -> None:
    """Refused before ``authenticate_stream`` runs, even with a valid token and no Origin (the
    Origin check lets clients that are not browsers through)."""
    # Signed with the key the server has (production's own).
    with override_settings(SECRET_KEY=SECRET_KEY if server.production else settings.SECRET_KEY):
        token = issue_token("u1", "user")
    url = f"ws://attacker.example:{server.port}/?{httpx.QueryParams(authToken=token)}"
    hooks_before = server.log().count("Stream authenticated")
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(url, host="127.0.0.1", port=server.port, open_timeout=10):
            pass
    response = refused.value.response
    if server.production:  # uvicorn lets the application answer the handshake
        assert response.status_code == 400
        assert "attacker.example" in json.loads(response.body or b"")["detail"]
    else:  # daphne answers every refused handshake with 403
        assert response.status_code == 403
    # The same handshake for the server's own name runs the hook and is let in.
    async with websockets.connect(
        url.replace("attacker.example", "127.0.0.1"), open_timeout=10
    ) as ws:
        await join(ws, "todo", "todos")
        assert (await recv_frame(ws, 10))["event"]["type"] == "sync"
    await asyncio.sleep(0.5)  # the server writes its lines after answering
    assert server.log().count("Stream authenticated") == hooks_before + 1, server.log()
