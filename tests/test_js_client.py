"""Our JavaScript stream client, ``streams/static/streams/stream-client.js``, end to end.

``node --test tests/js/`` runs ``tests/js/stream-client.test.mjs`` against real servers
started here: one plain server, which the Node tests may ask to restart (``POST /restart``
on a small control server of ours; it comes back on the same port and database), and one
that authenticates every handshake with a token (``examples.auth``). Their URLs
and a valid token reach Node through the environment. A test of Node's fails this test,
with Node's output and the servers' logs.

Also checked: runserver serves the module and its types as static files.
"""

import contextlib
import os
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from streams.sockets.tokens import issue_token
from tests.helpers.node import node_with_packages
from tests.helpers.passes import embedded_pass_only
from tests.helpers.processes import (
    AUTHENTICATE,
    ROOT,
    ServerProcess,
    TestDatabase,
    logs_on_failure,
)

# What this file checks does not depend on the database or the channel layer: it runs once,
# in the embedded pass.
pytestmark = embedded_pass_only

JS_TESTS = ROOT / "tests" / "js"
E2E_DIR = ROOT / "tests" / "e2e"
CLIENT = ROOT / "streams" / "static" / "streams" / "stream-client.js"
TYPES = CLIENT.with_suffix(".d.ts")
NODE_TIMEOUT = 240.0  # seconds for the whole Node run (each of its tests has 60)


# --- servers --------------------------------------------------------------------------------


class ControlServer:
    """``POST /restart`` restarts ``server`` and answers once it is up again (200), or
    with the error (500). Runs in a thread while Node runs."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.restarts = 0
        control = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path != "/restart":
                    self._answer(404, "unknown path")
                    return
                try:
                    control.server.restart()
                except Exception as error:
                    self._answer(500, f"restart failed: {error}")
                    return
                control.restarts += 1
                self._answer(200, "restarted")

            def _answer(self, status: int, text: str) -> None:
                body = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # not on pytest's output

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "ControlServer":
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def servers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """A plain server (which Node may restart) and a token-checking one, each on a fresh
    database. Stream-triggered steps enqueue tasks: with REDIS_URL set no worker of ours takes
    them, so they go to a queue of their own rather than to one that other runs' workers
    consume."""
    with (
        TestDatabase(tmp_path / "plain") as plain_db,
        TestDatabase(tmp_path / "auth") as auth_db,
        ServerProcess(plain_db, plain_db.own_queue, name="server") as plain,
        ServerProcess(auth_db, {**auth_db.own_queue, **AUTHENTICATE}, name="auth-server") as auth,
        logs_on_failure(request, [plain, auth]),
    ):
        yield plain, auth


@pytest.fixture(scope="module")
def node() -> str:
    """The node binary, with ``ws`` and Motia's client installed in tests/e2e (``npm ci``)."""
    return node_with_packages("test the JavaScript client")


def run_node_tests(node: str, env: dict[str, str]) -> tuple[int, str]:
    """``node --test tests/js/``; its exit status and output. A run past NODE_TIMEOUT is
    killed with its test processes (it has a process group of its own)."""
    process = subprocess.Popen(
        # --test-force-exit: a socket left open by a failed test must not hang the run.
        [node, "--test", "--test-force-exit", "--test-reporter=spec", str(JS_TESTS)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=NODE_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return -1, f"node --test did not finish within {NODE_TIMEOUT}s\n{output}"
    return process.returncode, output


# --- tests ----------------------------------------------------------------------------------


@pytest.mark.timeout(NODE_TIMEOUT + 120)
def test_js_client_against_real_servers(
    servers: tuple[ServerProcess, ServerProcess], node: str
) -> None:
    plain, auth = servers
    with ControlServer(plain) as control:
        status, output = run_node_tests(
            node,
            {
                "STREAM_CLIENT_HTTP_URL": plain.http_url,
                "STREAM_CLIENT_WS_URL": plain.ws_url,
                "STREAM_CLIENT_CONTROL_URL": control.url,
                "STREAM_CLIENT_AUTH_HTTP_URL": auth.http_url,
                "STREAM_CLIENT_AUTH_WS_URL": auth.ws_url,
                "STREAM_CLIENT_TOKEN": issue_token("u1", "user"),
            },
        )
    assert status == 0, f"node --test failed ({status}):\n{output}"
    # Every Node test ran: none skipped for want of a server.
    assert re.search(r"\bskipped 0$", output, re.MULTILINE), output
    assert control.restarts == 1, output


def test_client_module_and_types_are_static_files(server: ServerProcess) -> None:
    """runserver (DEBUG) serves the module to browsers with a JavaScript type, as written."""
    module = httpx.get(f"{server.http_url}/static/streams/stream-client.js", timeout=5)
    assert module.status_code == 200, server.log()
    assert module.headers["content-type"].split(";")[0] in {
        "text/javascript",
        "application/javascript",
    }
    assert module.content == CLIENT.read_bytes()
    types = httpx.get(f"{server.http_url}/static/streams/stream-client.d.ts", timeout=5)
    assert types.status_code == 200
    assert types.content == TYPES.read_bytes()
