"""The production topology in one command: the Procfile, run by honcho as ``make production``
runs it, starts two uvicorn servers, a Celery worker and beat on PostgreSQL and Redis; both
servers answer ``/healthz`` with 200, and a write through one reaches a subscriber of the
other, as does the work of the worker.

The run needs PostgreSQL and Redis (the services pass of ``make test``); the parse of the
Procfile runs everywhere.
"""

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

import httpx
import websockets
from honcho.environ import parse_procfile

from tests.helpers.deployment import LOCAL_PLAIN_HTTP
from tests.helpers.passes import needs_services
from tests.helpers.processes import ROOT, Start, Started, TestDatabase, server_environment
from tests.helpers.waiting import eventually
from tests.helpers.wire import join, next_event

BIN = Path(sys.executable).parent
START_WAIT = 90.0  # seconds for every process to be up: four Django processes on a busy machine
WAIT = 10.0
STOP_WAIT = 15.0  # honcho gives its processes 5 s after SIGTERM, then kills them
PROCFILE = ROOT / "Procfile"


def test_the_procfile_names_the_topology() -> None:
    processes = parse_procfile(PROCFILE.read_text()).processes
    assert list(processes) == ["web", "worker", "beat"]
    web = processes["web"]
    for option in (
        "uvicorn motia_site.asgi:application",
        '--port "$PORT"',
        "--ws websockets-sansio",
        "--loop uvloop",
        "--ws-per-message-deflate false",
        "--proxy-headers",
    ):
        assert option in web
    assert "celery -A motia_site worker" in processes["worker"]
    assert "celery -A motia_site beat" in processes["beat"]


def two_free_ports() -> int:
    """A port P such that P and P + 1 are free (honcho gives web.1 P, web.2 P + 1)."""
    for _ in range(50):
        with closing(socket.socket()) as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with closing(socket.socket()) as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return int(port)
    raise RuntimeError("no two free ports in a row")


class Honcho(Started):
    """``honcho start -c web=2`` on the Procfile, in a session of its own, its output in a file."""

    name = "honcho"

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.port = two_free_ports()
        self.log_path = directory / "honcho.log"
        empty = directory / "empty.env"  # not the developer's .env
        empty.write_text("")
        self.command = [
            *(str(BIN / "honcho"), "start", "-f", str(PROCFILE), "-d", str(ROOT)),
            *("-e", str(empty), "-p", str(self.port), "-c", "web=2", "--no-colour"),
        ]
        self.env = {**env, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{self.port}", f"http://127.0.0.1:{self.port + 1}"]

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def children(self) -> list[int]:
        """The process ids honcho reported for what it started (each leads a session)."""
        return [int(pid) for pid in re.findall(r"started \(pid=(\d+)\)", self.log())]

    def stop(self) -> None:
        """SIGTERM to honcho (it stops its processes), then SIGKILL to whatever is left."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_WAIT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(WAIT)
        for pid in self.children():
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def topology(directory: Path, database: TestDatabase) -> Honcho:
    """The Procfile's processes on the test's database, not started yet."""
    env = {
        **database.env,
        **LOCAL_PLAIN_HTTP,
        **database.own_queue,
        "STEPS_WORKER_HEARTBEAT_INTERVAL": "1",
    }
    return Honcho(directory, server_environment(env))


def wait_healthy(honcho: Honcho) -> dict[str, Any]:
    """Both servers' health once it is 200 (the worker's first heartbeat included)."""
    bodies: dict[str, Any] = {}

    def both() -> dict[str, Any] | None:
        assert honcho.process is not None and honcho.process.poll() is None, (
            "honcho ended early:\n" + honcho.log()
        )
        for url in honcho.urls:
            with suppress(httpx.TransportError):
                response = httpx.get(f"{url}/healthz", timeout=WAIT)
                if response.status_code == 200:
                    bodies[url] = response.json()
        return bodies if len(bodies) == 2 else None

    return eventually(both, "the servers to answer /healthz with 200", START_WAIT, interval=0.5)


async def across_servers(honcho: Honcho) -> None:
    first, second = honcho.urls
    ws_url = second.replace("http://", "ws://") + "/"
    trace_id = str(uuid.uuid4())
    async with websockets.connect(ws_url, open_timeout=WAIT) as ws:
        await join(ws, "todo", "todos")
        await next_event(ws, "sync", WAIT)
        await join(ws, "parallelMerge", "merge-groups", trace_id)
        await next_event(ws, "sync", WAIT)
        async with httpx.AsyncClient(base_url=first, timeout=WAIT) as http:
            created = await http.post("/todos", json={"description": "through the first"})
            assert created.status_code == 201, created.text
            frame = await next_event(ws, "create", WAIT)
            assert frame["event"]["data"]["description"] == "through the first"

            # Queued steps: the worker runs them; the second server's subscriber sees them.
            merge = await http.post(
                "/stream-parallel-merge", json={"totalSteps": 2, "traceId": trace_id}
            )
            assert merge.status_code == 200, merge.text

        async def merged() -> None:
            while True:
                frame = await next_event(ws, "update", WAIT)
                if frame["id"] == trace_id and frame["event"]["data"].get("completedSteps") == 2:
                    return

        await asyncio.wait_for(merged(), 30)


@needs_services
def test_the_procfile_starts_two_servers_a_worker_and_beat(
    tmp_path: Path, database: TestDatabase, start: Start
) -> None:
    honcho = start(topology(tmp_path, database))
    bodies = wait_healthy(honcho)
    for body in bodies.values():
        assert body["status"] == "ok"
        assert body["checks"]["worker"]["workers"] == 1
        assert body["checks"]["broker"]["backend"] == "redis"
    asyncio.run(across_servers(honcho))
    names = set(re.findall(r"(\w+\.\d+) started", honcho.log()))
    assert names == {"web.1", "web.2", "worker.1", "beat.1"}
    assert "beat: Starting" in honcho.log()
    honcho.stop()
    assert "stopped" in honcho.log()


@needs_services
def test_createdb_makes_the_database_make_production_needs() -> None:
    import psycopg

    name = f"createdb_{uuid.uuid4().hex[:12]}"
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    env = server_environment({"DATABASE_URL": f"{base}/{name}"})
    command = [sys.executable, "-m", "motia_site.createdb"]
    try:
        first = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        assert first.returncode == 0, first.stderr
        assert f"created database {name}" in first.stderr
        again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        assert again.returncode == 0 and again.stderr == ""  # there already: nothing to do
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
