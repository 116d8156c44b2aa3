"""Frames written straight to the socket's transport, under every ASGI server.

Where the server is one the engine knows and no extension is in use, SocketWriter writes a
frame's bytes to the transport itself (streams.sockets.transports.direct_writes); elsewhere it
goes through the server's ``send``. Either way a client gets every frame, whole and in order.
Each case runs tests/helpers/direct_writes_app.py under a real server, with a real client.
"""

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.helpers.direct_writes_app import FRAMES, SHARED, shared
from tests.helpers.passes import embedded_pass_only
from tests.helpers.processes import free_port, terminate

pytestmark = embedded_pass_only

APP = "tests.helpers.direct_writes_app:application"
ROOT = Path(__file__).resolve().parent.parent
WAIT = 20.0


def uvicorn(ws: str, deflate: bool) -> list[str]:
    return [
        *("-m", "uvicorn", APP, "--host", "127.0.0.1", "--port", "{port}", "--ws", ws),
        *("--ws-per-message-deflate", "true" if deflate else "false"),
    ]


# server -> (its command after the interpreter, whether the client offers deflate, the writes
# the engine should find)
CASES = {
    "uvicorn-sansio": (uvicorn("websockets-sansio", False), True, "UvicornSansioWrites"),
    "uvicorn-sansio-deflate": (uvicorn("websockets-sansio", True), True, "send"),
    "uvicorn-sansio-deflate-not-offered": (
        uvicorn("websockets-sansio", True),
        False,
        "UvicornSansioWrites",
    ),
    "uvicorn-wsproto": (uvicorn("wsproto", False), True, "UvicornWsprotoWrites"),
    "uvicorn-wsproto-deflate": (uvicorn("wsproto", True), True, "send"),
    "uvicorn-websockets-legacy": (uvicorn("websockets", False), True, "send"),
    "daphne": (["-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", APP], True, "DaphneWrites"),
    "daphne-deflate-not-offered": (
        ["-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", APP],
        False,
        "DaphneWrites",
    ),
    "hypercorn": (["-m", "hypercorn", "--bind", "127.0.0.1:{port}", APP], True, "send"),
    "granian": (
        ["-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", "{port}", APP],
        True,
        "send",
    ),
}


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[int]:
    command, _, _ = CASES[request.param]
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, *(part.format(port=port) for part in command)],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + WAIT
        while True:
            assert process.poll() is None, log.read_text()
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1.0)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield port
    finally:
        terminate(process, 10)
    assert "Traceback" not in log.read_text(), log.read_text()


@pytest.mark.parametrize("server", list(CASES), indirect=True)
async def test_every_frame_arrives_whole_and_in_order(
    server: int, request: pytest.FixtureRequest
) -> None:
    _, offers_deflate, expected = CASES[request.node.callspec.params["server"]]
    async with websockets.connect(
        f"ws://127.0.0.1:{server}/",
        compression="deflate" if offers_deflate else None,
        max_size=None,
        open_timeout=WAIT,
    ) as socket:
        assert await asyncio.wait_for(socket.recv(), WAIT) == expected
        for n in range(FRAMES):
            frame = await asyncio.wait_for(socket.recv(), WAIT)
            assert frame == (SHARED["text"] if shared(n) else f"{n} " + "x" * n), n
        assert await asyncio.wait_for(socket.recv(), WAIT) == "done"
