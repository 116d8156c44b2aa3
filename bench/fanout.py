"""Stream fan-out benchmark: frames delivered per second to WebSocket subscribers.

Runs our real server (daphne via ``manage.py runserver``, or uvicorn) on a fresh SQLite
database, connects N subscribers to the ``todo``/``todos`` group from a separate client
process, creates E todos over HTTP and measures how fast every subscriber receives every
``create`` frame. Then it measures a minimal raw ``websockets`` server that broadcasts a
frame of the same size to the same N subscribers, fed the same E events, and prints both
figures and the ratio ``ours / raw websockets baseline``. See bench/README.md.

One script, three roles: the orchestrator (default), ``--role client`` (the subscribers) and
``--role baseline`` (the raw server). Everything listens and connects on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from harness import install_uvloop, parse_int_list, raise_fd_limit
from wsclient import StreamSubscriber, open_subscribers

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
REDIS_URL = "redis://127.0.0.1:6379/0"
STREAM = "todo"
GROUP = "todos"  # the group POST /todos writes to, so the one subscribers join
WS_PATH = "/"
START_TIMEOUT = 30.0  # server start, migrations excluded
MIGRATE_TIMEOUT = 120.0
STOP_TIMEOUT = 5.0
CONNECT_CONCURRENCY = 100
MAX_PROCESS_SECONDS = 600.0  # hard lifetime of a helper process, whatever happens
# The server's configuration is the benchmark's to choose, not the caller's environment's.
SERVER_ENV_OWNED = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_QUEUE"}


def log(message: str) -> None:
    """Progress on stderr; stdout carries only the final table (and helper protocol)."""
    print(f"[fanout] {message}", file=sys.stderr, flush=True)


def now_ms() -> float:
    return time.time() * 1000.0


def percentile(values: list[float], fraction: float) -> float | None:
    """The value below which ``fraction`` of ``values`` lie (nearest rank), None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


# ================================================================================================
# Client role: N subscribers on a minimal WebSocket client
# ================================================================================================
#
# The client must not be the bottleneck, so it speaks just enough RFC 6455 itself (wsclient.py:
# one asyncio.Protocol per socket, frames parsed straight from the buffer, no per-message task
# or future). Received frames are counted per subscriber; each create frame's ``timestamp``
# (server wall clock, ms) against the receive wall clock gives its latency.


@dataclass
class Tally:
    """What all subscribers of the client process received, shared by their protocols."""

    expected: int
    creates: int = 0
    others: int = 0
    complete: int = 0
    first_ms: float | None = None
    last_ms: float | None = None
    frame_bytes: int = 0
    latencies: list[float] = field(default_factory=list)
    subscribers: list[Subscriber] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def recount(self) -> None:
        """Recompute completion after ``expected`` changed."""
        self.complete = sum(1 for sub in self.subscribers if sub.creates >= self.expected)
        if self.complete >= len(self.subscribers):
            self.done.set()


class Subscriber(StreamSubscriber):
    """One WebSocket subscriber of todo/todos: joins, then counts create frames."""

    clock = staticmethod(now_ms)  # wall clock, comparable with the frames' timestamps

    def __init__(self, tally: Tally, port: int, path: str = WS_PATH) -> None:
        super().__init__(HOST, port, STREAM, GROUP, path)
        self.tally = tally
        self.creates = 0

    def on_event(
        self, message: dict[str, Any], kind: str | None, size: int, received: float
    ) -> None:
        if kind == "create":
            self._on_create(message, size, received)
        else:
            self.tally.others += 1

    def sent_ms(self, message: dict[str, Any]) -> float:
        """When the frame's latency starts (wall clock, ms): the server's stamp of the change,
        taken in the write's transaction."""
        return float(message["timestamp"])

    def _on_create(self, message: dict[str, Any], size: int, received_ms: float) -> None:
        tally = self.tally
        self.creates += 1
        tally.creates += 1
        tally.latencies.append(received_ms - self.sent_ms(message))
        if tally.first_ms is None:
            tally.first_ms, tally.frame_bytes = received_ms, size
        tally.last_ms = received_ms
        if self.creates == tally.expected:
            tally.complete += 1
            if tally.complete >= len(tally.subscribers):
                tally.done.set()


async def connect_all(
    tally: Tally,
    port: int,
    path: str,
    count: int,
    timeout: float,
    kind: type[Subscriber] = Subscriber,
) -> tuple[int, list[str]]:
    """Connect ``count`` subscribers (of class ``kind``) to ``port``, a bounded number at a
    time; (connected in all, errors)."""
    subscribers, errors = await open_subscribers(
        lambda: kind(tally, port, path),
        HOST,
        port,
        count,
        CONNECT_CONCURRENCY,
        timeout,
        timeout * 2,
    )
    tally.subscribers.extend(subscribers)
    return len(tally.subscribers), errors


def emit(message: dict[str, Any]) -> None:
    """One line of the helper protocol on stdout."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def read_commands(tally: Tally, go: asyncio.Event, stopped: asyncio.Event) -> None:
    """Follow the orchestrator's commands on stdin: ``go``, ``expect`` (events); at the end
    of stdin, stop."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            stopped.set()
            return
        command = json.loads(line)
        if "expect" in command:
            tally.expected = int(command["expect"])
            tally.recount()
        if command.get("go"):
            go.set()


def client_result(tally: Tally, connected: int, cpu_seconds: float, wall: float) -> dict[str, Any]:
    """The client's final report (one JSON line)."""
    counts = [sub.creates for sub in tally.subscribers]
    return {
        "event": "result",
        "connected": connected,
        "creates": tally.creates,
        "others": tally.others,
        "complete_subscribers": tally.complete,
        "min_per_subscriber": min(counts, default=0),
        "max_per_subscriber": max(counts, default=0),
        "dropped_sockets": sum(1 for sub in tally.subscribers if sub.closed),
        "first_ms": tally.first_ms,
        "last_ms": tally.last_ms,
        "frame_bytes": tally.frame_bytes,
        "latency_p50_ms": percentile(tally.latencies, 0.50),
        "latency_p99_ms": percentile(tally.latencies, 0.99),
        "latency_max_ms": max(tally.latencies, default=None),
        "cpu_seconds": cpu_seconds,
        "wall_seconds": wall,
    }


async def client_main(args: argparse.Namespace, kind: type[Subscriber] = Subscriber) -> int:
    """Connect the subscribers, spread evenly over ``args.ports``, report ready, count frames
    after ``go`` until done or timeout."""
    tally = Tally(expected=args.events)
    started = time.monotonic()
    errors: list[str] = []
    connected = 0
    for index, port in enumerate(args.ports):
        share = args.subscribers // len(args.ports) + (index < args.subscribers % len(args.ports))
        connected, failed = await connect_all(tally, port, WS_PATH, share, args.timeout, kind)
        errors += failed
    emit(
        {
            "event": "ready",
            "connected": connected,
            "errors": errors[:5],
            "error_count": len(errors),
            "join_seconds": time.monotonic() - started,
        }
    )
    go, stopped = asyncio.Event(), asyncio.Event()
    commands = asyncio.create_task(read_commands(tally, go, stopped))
    await wait_first(go.wait(), stopped.wait(), timeout=MAX_PROCESS_SECONDS)
    cpu0, wall0 = time.process_time(), time.monotonic()
    if connected and not stopped.is_set():
        await wait_first(tally.done.wait(), stopped.wait(), timeout=args.timeout)
    emit(client_result(tally, connected, time.process_time() - cpu0, time.monotonic() - wall0))
    commands.cancel()
    for subscriber in tally.subscribers:
        if subscriber.transport is not None:
            subscriber.transport.abort()
    return 0


async def wait_first(*waits: Any, timeout: float) -> None:
    """Wait until the first of ``waits`` finishes, or ``timeout`` seconds; cancel the rest."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


# ================================================================================================
# Baseline role: a minimal raw `websockets` server
# ================================================================================================


def baseline_frame_parts(frame_bytes: int) -> tuple[str, str]:
    """Text before and after the timestamp of a create frame padded to ``frame_bytes``
    (with a 13-digit millisecond timestamp), pre-encoded once."""
    item_id = str(uuid.uuid4())

    def parts(description: str) -> tuple[str, str]:
        item = {"id": item_id, "description": description, "createdAt": "2025-01-01T00:00:00Z"}
        rest = {
            "streamName": STREAM,
            "groupId": GROUP,
            "id": item_id,
            "event": {"type": "create", "data": item},
        }
        tail = orjson.dumps(rest).decode()
        return '{"type":"stream","timestamp":', "," + tail[1:]

    head, tail = parts("")
    padding = max(0, frame_bytes - len(head) - 13 - len(tail))
    return parts("x" * padding)


def sync_reply(raw: str | bytes) -> str | None:
    """The sync frame answering a join (None for anything else)."""
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(message, dict) or message.get("type") != "join":
        return None
    data = message.get("data") or {}
    frame = {
        "type": "stream",
        "timestamp": int(now_ms()),
        "streamName": data.get("streamName"),
        "groupId": data.get("groupId"),
        "id": None,
        "event": {"type": "sync", "data": []},
    }
    return orjson.dumps(frame).decode()


async def baseline_main(args: argparse.Namespace) -> int:
    """Serve joins; broadcast one frame per line read on stdin; exit at end of stdin."""
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    members: set[ServerConnection] = set()
    head, tail = baseline_frame_parts(args.frame_bytes)

    async def handler(connection: ServerConnection) -> None:
        try:
            async for raw in connection:
                reply = sync_reply(raw)
                if reply is not None:
                    await connection.send(reply)
                    members.add(connection)
        finally:
            members.discard(connection)

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with serve(handler, HOST, 0, compression=None, ping_interval=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        emit({"event": "ready", "port": port})
        deadline = time.monotonic() + MAX_PROCESS_SECONDS
        while time.monotonic() < deadline:
            line = await asyncio.wait_for(reader.readline(), deadline - time.monotonic())
            if not line:
                break
            for _ in range(line.count(b"e")):  # one "e" per event
                broadcast(members, f"{head}{int(now_ms())}{tail}")
    return 0


# ================================================================================================
# Orchestrator
# ================================================================================================

# A writer drives one measurement: it returns (events written, seconds, how they were fed).
Writer = Callable[[], Awaitable[tuple[int, float, str]]]


@dataclass
class Measurement:
    """One target's figures."""

    name: str
    subscribers: int
    events: int
    connected: int = 0
    join_seconds: float = 0.0
    events_ok: int = 0
    write_seconds: float = 0.0
    rate_note: str = ""
    start_wall: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)
    server_cpu_seconds: float | None = None
    server_cpu_wall: float = 0.0
    machine_busy: float | None = None  # share of all cores busy during the window
    errors: list[str] = field(default_factory=list)

    @property
    def expected(self) -> int:
        return self.connected * self.events_ok

    @property
    def received(self) -> int:
        return int(self.result.get("creates", 0))

    @property
    def complete(self) -> bool:
        return (
            not self.errors
            and self.connected == self.subscribers
            and self.events_ok == self.events
            and self.received >= self.expected > 0
        )

    @property
    def elapsed(self) -> float | None:
        """Seconds from the first write to the last create frame received."""
        last = self.result.get("last_ms")
        return None if last is None else last / 1000.0 - self.start_wall

    @property
    def frames_per_second(self) -> float | None:
        elapsed = self.elapsed
        return self.received / elapsed if elapsed else None

    @property
    def events_per_second(self) -> float | None:
        return self.events_ok / self.write_seconds if self.write_seconds else None

    @property
    def frames_per_cpu_second(self) -> float | None:
        cpu = self.server_cpu_seconds
        return self.received / cpu if cpu else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc), None if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) CPU ticks of the whole machine so far (Linux /proc/stat)."""
    try:
        ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def server_env(tmp: Path, redis: bool) -> dict[str, str]:
    """The server's environment: a fresh SQLite file; the Redis pub/sub layer with --redis."""
    env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV_OWNED}
    env["SQLITE_PATH"] = str(tmp / "bench.sqlite3")
    env["PYTHONUNBUFFERED"] = "1"
    if redis:
        tag = uuid.uuid4().hex[:8]
        env["REDIS_URL"] = REDIS_URL
        env["CHANNELS_PREFIX"] = f"bench{tag}"  # keep off others' channels
        # Stream-triggered steps are enqueued on Redis for worker processes; none runs here,
        # so they go to a queue of their own, deleted after the run.
        env["CELERY_QUEUE"] = f"bench-fanout-{tag}"
    return env


def drop_redis_keys(name: str) -> int:
    """Delete the Redis keys whose name contains ``name`` (unique to this run)."""
    import redis  # installed with channels-redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"*{name}*", count=1000))
        return int(client.delete(*keys)) if keys else 0
    finally:
        client.close()


def server_command(server: str, port: int, python: str) -> list[str]:
    """``manage.py runserver`` (daphne) or uvicorn as production runs it (docs/production.md)."""
    if server == "daphne":
        return [python, "manage.py", "runserver", f"{HOST}:{port}", "--noreload"]
    return [
        *(python, "-m", "uvicorn", "motia_site.asgi:application"),
        *("--host", HOST, "--port", str(port), "--ws", "websockets-sansio"),
        *("--loop", "uvloop", "--ws-per-message-deflate", "false"),
    ]


async def stop_process(process: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> None:
    """Stop a process we started (``sig``, then SIGKILL if it lingers)."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT)


async def spawn(
    command: list[str], env: dict[str, str] | None, logfile: Path, cwd: Path = ROOT
) -> Any:
    """Start a process (in the project directory), its output appended to ``logfile``."""
    with logfile.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            *command, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out
        )


async def migrate(args: argparse.Namespace, env: dict[str, str], logfile: Path) -> None:
    command = [args.python, "manage.py", "migrate", "--noinput"]
    process = await spawn(command, env, logfile, cwd=args.project)
    try:
        code = await asyncio.wait_for(process.wait(), MIGRATE_TIMEOUT)
    finally:
        await stop_process(process)
    if code != 0:
        raise RuntimeError(f"migrate failed ({code}); see {logfile}")


async def wait_for_http(process: asyncio.subprocess.Process, url: str) -> None:
    """Return once ``url`` answers 200; raise if the server exits or takes too long."""
    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"server did not answer {url} within {START_TIMEOUT:.0f} s")


class Helper:
    """A helper process (client or baseline role) speaking JSON lines on stdin/stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(
        cls, role_args: list[str], logfile: Path, script: Path = Path(__file__)
    ) -> Helper:
        """``script`` (this one) in one of its roles."""
        with logfile.open("ab") as err:
            process = await asyncio.create_subprocess_exec(
                sys.executable, str(script.resolve()), *role_args,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err,
            )  # fmt: skip
        return cls(process)

    async def read(self, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"helper exited ({await self.process.wait()}) without reporting")
        return dict(json.loads(line))

    async def write(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode())
        await self.process.stdin.drain()

    async def send(self, command: dict[str, Any]) -> None:
        """Send a command; a helper that already finished (and reported) is not an error."""
        with contextlib.suppress(ConnectionError):
            await self.write(json.dumps(command) + "\n")

    async def stop(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        await stop_process(self.process)


async def start_profiler(pid: int, output: Path, logfile: Path) -> Any:
    """py-spy recording ``pid`` into ``output`` (collapsed stacks), if py-spy is installed."""
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if py_spy is None:
        log("--profile: py-spy not found (pip install py-spy); not profiling")
        return None
    command = [py_spy, "record", "--pid", str(pid), "--format", "raw", "--output", str(output)]
    process = await spawn([*command, "--rate", "200", "--nonblocking"], None, logfile)
    await asyncio.sleep(1.0)  # let it attach before the measured window
    return process


def top_frames(profile: Path, count: int = 15) -> list[tuple[float, float, str]]:
    """(self %, total %, frame) of the busiest frames in a collapsed-stack profile."""
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    samples = 0
    for line in profile.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        frames, hits = stack.split(";"), int(number)
        samples += hits
        own[frames[-1]] = own.get(frames[-1], 0) + hits
        for frame in set(frames):
            total[frame] = total.get(frame, 0) + hits
    if not samples:
        return []
    ranked = sorted(own, key=own.__getitem__, reverse=True)[:count]
    return [(100 * own[f] / samples, 100 * total[f] / samples, f) for f in ranked]


async def measure(
    args: argparse.Namespace,
    measurement: Measurement,
    port: int,
    server_pid: int,
    write: Writer,
    logs: Path,
) -> None:
    """Join the subscribers, run ``write`` and collect what the subscribers received."""
    client = await Helper.start(
        [
            *("--role", "client", "--ports", str(port), "--timeout", str(args.timeout)),
            *("--subscribers", str(args.subscribers), "--events", str(args.events)),
        ],
        logs / "client.log",
    )
    profiler = None
    try:
        await join_subscribers(client, measurement, args.timeout * 2 + 10)
        if args.profile and measurement.name.startswith("ours"):
            profiler = await start_profiler(server_pid, args.profile, logs / "py-spy.log")
        window = CpuWindow.start(server_pid)
        await client.send({"go": True})
        measurement.start_wall = time.time()
        measurement.events_ok, measurement.write_seconds, measurement.rate_note = await write()
        await client.send({"expect": measurement.events_ok})
        take_result(measurement, await client.read(args.timeout + 30))
        window.finish(measurement)
    finally:
        if profiler is not None:
            await stop_profiler(profiler)
        await client.stop()
    log(f"{measurement.name}: {fmt(measurement.frames_per_second)} frames/s")


def take_result(measurement: Measurement, result: dict[str, Any]) -> None:
    """Keep the client's report; sockets the server closed and stray frames are errors."""
    measurement.result = result
    if result["dropped_sockets"]:
        measurement.errors.append(f"{result['dropped_sockets']} sockets closed by the server")
    if result["others"]:
        measurement.errors.append(f"{result['others']} unexpected (not create) frames")


@dataclass
class CpuWindow:
    """The server's and the machine's CPU use over the measured window."""

    pid: int
    process: float | None
    machine: tuple[int, int] | None
    wall: float

    @classmethod
    def start(cls, pid: int) -> CpuWindow:
        return cls(pid, process_cpu_seconds(pid), machine_cpu_ticks(), time.monotonic())

    def finish(self, measurement: Measurement) -> None:
        process, machine = process_cpu_seconds(self.pid), machine_cpu_ticks()
        if self.machine and machine and machine[1] > self.machine[1]:
            busy, total = machine[0] - self.machine[0], machine[1] - self.machine[1]
            measurement.machine_busy = busy / total
        if self.process is not None and process is not None:
            measurement.server_cpu_seconds = process - self.process
            measurement.server_cpu_wall = time.monotonic() - self.wall


async def stop_profiler(profiler: Any) -> None:
    await stop_process(profiler, signal.SIGINT)  # py-spy writes its file on SIGINT


async def join_subscribers(client: Helper, measurement: Measurement, timeout: float) -> None:
    ready = await client.read(timeout)
    measurement.connected = int(ready["connected"])
    measurement.join_seconds = float(ready["join_seconds"])
    if not measurement.connected:
        raise RuntimeError(f"no subscriber joined {measurement.name}: {ready['errors'][:2]}")
    if ready["error_count"]:
        measurement.errors.append(
            f"{ready['error_count']} subscribers failed to join, e.g. {ready['errors'][:2]}"
        )
    log(
        f"{measurement.name}: {measurement.connected}/{measurement.subscribers} subscribers "
        f"joined in {measurement.join_seconds:.1f} s"
    )


async def post_todos(
    port: int, events: int, writers: int, timeout: float, failures: list[str]
) -> tuple[int, float]:
    """Create ``events`` todos with ``writers`` concurrent clients; (created, seconds).
    Why a request failed goes to ``failures``."""
    numbers = iter(range(events))
    created = 0
    deadline = time.monotonic() + timeout

    async def writer(client: httpx.AsyncClient) -> None:
        nonlocal created
        for number in numbers:
            if time.monotonic() > deadline:
                return
            body = {"description": f"bench event {number:06d}"}
            try:
                response = await client.post(f"http://{HOST}:{port}/todos", json=body)
            except httpx.HTTPError as error:
                failures.append(f"POST /todos: {type(error).__name__}: {error}")
                continue
            if response.status_code == 201:
                created += 1
            else:
                failures.append(f"POST /todos: {response.status_code} {response.text[:100]}")

    started = time.monotonic()
    limits = httpx.Limits(max_connections=writers)
    async with httpx.AsyncClient(timeout=10.0, limits=limits) as client:
        await asyncio.gather(*(writer(client) for _ in range(writers)))
    return created, time.monotonic() - started


async def measure_ours(args: argparse.Namespace, tmp: Path) -> Measurement:
    """Our server on a fresh database; todos created over HTTP."""
    name = f"ours ({args.server}{', redis' if args.redis else ''})"
    measurement = Measurement(name, args.subscribers, args.events)
    env, logfile = server_env(tmp, args.redis), tmp / "server.log"
    log(f"{name}: migrating a fresh database in {tmp}")
    await migrate(args, env, logfile)
    port = free_port()
    server = await spawn(
        server_command(args.server, port, args.python), env, logfile, cwd=args.project
    )

    async def write() -> tuple[int, float, str]:
        failures: list[str] = []
        created, seconds = await post_todos(port, args.events, args.writers, args.timeout, failures)
        if failures:
            measurement.errors.append(f"{len(failures)} writes failed, e.g. {failures[0]}")
        if created + len(failures) < args.events:
            measurement.errors.append(f"writes stopped at the {args.timeout:.0f} s timeout")
        return created, seconds, f"POST /todos as fast as it answers ({args.writers} clients)"

    try:
        await wait_for_http(server, f"http://{HOST}:{port}/todos")
        log(f"{name}: serving on {HOST}:{port}; connecting subscribers")
        await measure(args, measurement, port, server.pid, write, tmp)
    finally:
        await stop_process(server)
        if "CELERY_QUEUE" in env:
            drop_redis_keys(env["CELERY_QUEUE"])
    return measurement


async def feed_baseline(baseline: Helper, events: int, rate: float | None) -> float:
    """Trigger ``events`` broadcasts, paced at ``rate`` per second (None: all at once);
    returns the seconds the paced writes took."""
    if rate is None:
        await baseline.write("e" * events + "\n")
        return 0.0  # a burst: no write rate to speak of
    started = time.monotonic()
    for number in range(events):
        delay = started + number / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await baseline.write("e\n")
    return time.monotonic() - started


async def measure_baseline(
    args: argparse.Namespace, tmp: Path, frame_bytes: int, rate: float | None
) -> Measurement:
    """The same subscribers and events against a minimal raw websockets server."""
    name = "raw ws, " + ("matched" if rate else "max")
    measurement = Measurement(name, args.subscribers, args.events)
    baseline = await Helper.start(
        ["--role", "baseline", "--frame-bytes", str(frame_bytes)], tmp / "baseline.log"
    )

    async def write() -> tuple[int, float, str]:
        seconds = await feed_baseline(baseline, args.events, rate)
        note = (
            "all at once (as fast as possible)"
            if rate is None
            else f"paced at ours' {rate:.1f} events/s"
        )
        return args.events, seconds, note

    try:
        port = int((await baseline.read(START_TIMEOUT))["port"])
        log(f"{name}: serving on {HOST}:{port}; connecting subscribers")
        await measure(args, measurement, port, baseline.process.pid, write, tmp)
    finally:
        await baseline.stop()
    return measurement


# --- report -------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def cpu_percent(seconds: float | None, wall: float | None) -> str:
    return "-" if seconds is None or not wall else f"{100 * seconds / wall:.0f}%"


ROWS: list[tuple[str, Callable[[Measurement], str]]] = [
    ("subscribers joined", lambda m: f"{m.connected}/{m.subscribers}"),
    ("events written", lambda m: f"{m.events_ok}/{m.events}"),
    ("events/s written", lambda m: fmt(m.events_per_second, 1)),
    ("create frames received", lambda m: f"{m.received:,}/{m.expected:,}"),
    ("frames lost", lambda m: f"{max(0, m.expected - m.received):,}"),
    ("first write -> last frame, s", lambda m: fmt(m.elapsed, 2)),
    ("frames/s delivered", lambda m: fmt(m.frames_per_second)),
    (
        "latency p50 / p99, ms",
        lambda m: f"{fmt(m.result.get('latency_p50_ms'))} / {fmt(m.result.get('latency_p99_ms'))}",
    ),
    ("frame size, bytes", lambda m: str(m.result.get("frame_bytes", "-"))),
    ("server CPU, % of one core", lambda m: cpu_percent(m.server_cpu_seconds, m.server_cpu_wall)),
    ("frames per server CPU-second", lambda m: fmt(m.frames_per_cpu_second)),
    (
        "client CPU, % of one core",
        lambda m: cpu_percent(m.result.get("cpu_seconds"), m.result.get("wall_seconds")),
    ),
    ("machine CPU busy, % of all cores", lambda m: fmt(m.machine_busy and 100 * m.machine_busy)),
    ("complete", lambda m: "yes" if m.complete else "NO"),
]


def ratio(ours: float | None, base: float | None) -> str:
    return f"{ours / base:.2f}" if ours and base else "-"


def print_report(args: argparse.Namespace, columns: list[Measurement]) -> None:
    """The table, how each target was fed, errors, and the ratios against the baselines."""
    cells = [[cell(m) for _, cell in ROWS] for m in columns]
    label_width = max(len(label) for label, _ in ROWS) + 2
    widths = [max(len(m.name), *map(len, row)) + 2 for m, row in zip(columns, cells, strict=True)]
    print(
        f"\nstream fan-out: {args.subscribers} subscribers of {STREAM}/{GROUP}, "
        f"{args.events} events, {os.cpu_count()} CPUs (load average before: {args.load:.2f}), "
        f"{time.strftime('%Y-%m-%d %H:%M')}"
    )
    print(
        " " * label_width + "".join(m.name.rjust(w) for m, w in zip(columns, widths, strict=True))
    )
    for index, (label, _) in enumerate(ROWS):
        row = "".join(c[index].rjust(w) for c, w in zip(cells, widths, strict=True))
        print(label.ljust(label_width) + row)
    for m in columns:
        print(f"{m.name}: events fed {m.rate_note}")
        for error in m.errors:
            print(f"{m.name}: ERROR {error}")
    ours = columns[0]
    for base in columns[1:]:
        print(
            f"ratio ours / raw websockets baseline, {base.name.removeprefix('raw ws, ')}: "
            f"frames/s {ratio(ours.frames_per_second, base.frames_per_second)}, frames per server "
            f"CPU-second {ratio(ours.frames_per_cpu_second, base.frames_per_cpu_second)}"
        )
    if args.profile and args.profile.exists():
        print(f"\nserver profile ({args.profile}), busiest frames: self %, total %")
        for own, total, frame in top_frames(args.profile):
            print(f"{own:6.1f} {total:6.1f}  {frame}")


def measurement_json(m: Measurement) -> dict[str, Any]:
    """One column of the table, as figures."""
    busy = m.machine_busy
    return {
        "name": m.name,
        "complete": m.complete,
        "subscribers": m.subscribers,
        "subscribers_joined": m.connected,
        "join_seconds": m.join_seconds,
        "events": m.events,
        "events_written": m.events_ok,
        "events_per_second": m.events_per_second,
        "events_fed": m.rate_note,
        "frames_expected": m.expected,
        "frames_received": m.received,
        "frames_lost": max(0, m.expected - m.received),
        "window_seconds": m.elapsed,
        "frames_per_second": m.frames_per_second,
        "latency_p50_ms": m.result.get("latency_p50_ms"),
        "latency_p99_ms": m.result.get("latency_p99_ms"),
        "latency_max_ms": m.result.get("latency_max_ms"),
        "frame_bytes": m.result.get("frame_bytes"),
        "server_cpu_seconds": m.server_cpu_seconds,
        "server_cpu_wall_seconds": m.server_cpu_wall,
        "frames_per_server_cpu_second": m.frames_per_cpu_second,
        "client_cpu_seconds": m.result.get("cpu_seconds"),
        "client_wall_seconds": m.result.get("wall_seconds"),
        "machine_cpu_busy_percent": None if busy is None else 100 * busy,
        "errors": m.errors,
    }


def write_json(args: argparse.Namespace, columns: list[Measurement]) -> None:
    """The figures of the table, the ratios and the settings, as one JSON document."""
    ours = columns[0]
    document = {
        "benchmark": "fanout",
        "started": args.started,
        "cpus": os.cpu_count(),
        "load_average_before": args.load,
        "settings": {
            "server": args.server,
            "redis": args.redis,
            "subscribers": args.subscribers,
            "events": args.events,
            "writers": args.writers,
            "timeout": args.timeout,
            "baseline": args.baseline,
            "repeats": args.repeats,
        },
        "measurements": [measurement_json(m) for m in columns],
        "ratios": [
            {
                "baseline": base.name,
                "frames_per_second": ratio_value(ours.frames_per_second, base.frames_per_second),
                "frames_per_server_cpu_second": ratio_value(
                    ours.frames_per_cpu_second, base.frames_per_cpu_second
                ),
            }
            for base in columns[1:]
        ],
        "complete": all(m.complete for m in columns),
    }
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    log(f"JSON written to {args.json}")


def ratio_value(ours: float | None, base: float | None) -> float | None:
    return ours / base if ours and base else None


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000, help="WebSocket subscribers")
    parser.add_argument("--events", type=int, default=200, help="todos created (events)")
    parser.add_argument("--server", choices=["daphne", "uvicorn"], default="daphne")
    parser.add_argument("--redis", action="store_true", help=f"channel layer on {REDIS_URL}")
    # 16: with 4, each write's round trip (its fan-out included) set the pace and the server
    # idled a fifth of the time; the max baseline is fed with no round trip at all.
    parser.add_argument("--writers", type=int, default=16, help="concurrent HTTP writers")
    parser.add_argument("--timeout", type=float, default=60.0, help="delivery timeout, s")
    parser.add_argument(
        "--baseline",
        choices=["both", "matched", "max", "none"],
        default="both",
        help="feed the raw baseline at ours' write rate, as fast as possible, both, or skip it",
    )
    parser.add_argument("--profile", type=Path, help="py-spy our server into this file (raw)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of the max-rate baseline (the best counts)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--project", type=Path, default=ROOT, help="the checkout whose server to run (this one)"
    )
    parser.add_argument(
        "--python", default=sys.executable, help="the Python that runs the server (this one)"
    )
    # Internal: the helper processes' roles.
    parser.add_argument("--role", choices=["main", "client", "baseline"], default="main",
                        help=argparse.SUPPRESS)  # fmt: skip
    parser.add_argument("--ports", type=parse_int_list, default=[], help=argparse.SUPPRESS)
    parser.add_argument("--frame-bytes", type=int, default=256, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.subscribers, args.events, args.writers, args.timeout, args.repeats) <= 0:
        parser.error("--subscribers, --events, --writers, --timeout, --repeats must be positive")
    return args


async def orchestrate(args: argparse.Namespace, tmp: Path) -> list[Measurement]:
    """Ours first (its write rate and frame size set the baseline's), then the baselines."""
    ours = await measure_ours(args, tmp)
    frame_bytes = int(ours.result.get("frame_bytes") or 256)
    rates = {
        "both": [ours.events_per_second, None],
        "matched": [ours.events_per_second],
        "max": [None],
        "none": [],
    }[args.baseline]
    columns = [ours]
    for rate in rates:
        if rate is None:
            columns.append(await best_burst_baseline(args, tmp, frame_bytes))
        else:
            columns.append(await measure_baseline(args, tmp, frame_bytes, rate))
    return columns


async def best_burst_baseline(args: argparse.Namespace, tmp: Path, frame_bytes: int) -> Measurement:
    """The burst baseline is short and noisy on a shared machine: the best of ``--repeats``."""
    runs = [await measure_baseline(args, tmp, frame_bytes, None) for _ in range(args.repeats)]
    best = max(runs, key=lambda m: m.frames_per_second or 0.0)
    if len(runs) > 1:
        best.name += f" (best of {len(runs)})"
        figures = " / ".join(fmt(m.frames_per_second) for m in runs)
        best.rate_note += f"; runs: {figures} frames/s"
    best.errors += [f"another run: {e}" for m in runs if m is not best for e in m.errors]
    best.errors += [f"another run lost {m.expected - m.received} frames" for m in runs
                    if m is not best and m.received < m.expected]  # fmt: skip
    return best


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_fd_limit(args.subscribers * 2 + 256)
    if args.role != "main":
        install_uvloop()
        return asyncio.run((client_main if args.role == "client" else baseline_main)(args))
    args.load = os.getloadavg()[0]
    args.started = time.strftime("%Y-%m-%d %H:%M:%S")
    tmp = Path(tempfile.mkdtemp(prefix="fanout-"))
    try:
        columns = asyncio.run(orchestrate(args, tmp))
    except Exception as error:
        log(f"error: {type(error).__name__}: {error or 'timed out'} (logs kept in {tmp})")
        args.keep = True
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print_report(args, columns)
    if args.json:
        write_json(args, columns)
    return 0 if all(m.complete for m in columns) else 1


if __name__ == "__main__":
    sys.exit(main())
