"""Shared code of the benchmarks: processes, ports, databases, /proc figures, wrk, reports.

Everything here listens and connects on 127.0.0.1 only, and every wait has a time limit.
The benchmarks import it as a sibling module (``python bench/<name>.py`` puts ``bench/`` on
``sys.path``).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import json
import os
import re
import resource
import secrets
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"  # the default of --redis-url
MONITOR = "bench-monitor"  # application_name of the benchmark's own PostgreSQL connections
START_TIMEOUT = 60.0  # a server's start, migrations excluded (a busy machine is slow)
MIGRATE_TIMEOUT = 180.0
STOP_TIMEOUT = 10.0
# The benchmark chooses these for the server; the caller's environment must not override them.
SERVER_ENV_OWNED = (
    "DATABASE_URL",
    "SQLITE_PATH",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_QUEUE",
    "CHANNELS_PREFIX",
    "DJANGO_SETTINGS_MODULE",
)
# How production runs the server (docs/production.md): uvicorn, sansio websockets, uvloop,
# no deflate.
UVICORN_FLAGS = (
    *("--ws", "websockets-sansio", "--loop", "uvloop", "--ws-per-message-deflate", "false"),
    *("--no-access-log", "--log-level", "warning"),
)
OURS_APP = "motia_site.asgi:application"
BASELINE_DJANGO_APP = "baseline.asgi:application"  # bench/baseline, the bare Django project
RAW_APP = "rawapp:app"  # bench/rawapp.py, no Django


# --- progress, arguments -----------------------------------------------------------------------


def make_log(name: str) -> Callable[[str], None]:
    """A progress logger writing ``[name] message`` to stderr (stdout carries the report)."""

    def log(message: str) -> None:
        print(f"[{name} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    return log


def default_python() -> str:
    """This checkout's venv python, else the interpreter running the bench."""
    venv = REPO_ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def add_common_args(parser: argparse.ArgumentParser, db_choices: Sequence[str]) -> None:
    """The options every benchmark takes: target checkout, python, database, output."""
    parser.add_argument(
        "--project",
        type=Path,
        default=REPO_ROOT,
        help="checkout whose server is 'ours' (default: this repository)",
    )
    parser.add_argument("--python", default=default_python(), help="python running the servers")
    parser.add_argument("--db", choices=db_choices, default=db_choices[0], help="database")
    parser.add_argument("--json", type=Path, help="write the JSON document here, not to stdout")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    if "postgres" in db_choices:
        parser.add_argument(
            "--redis-url", default=REDIS_URL, help=f"Redis of --db postgres (default {REDIS_URL})"
        )
        parser.add_argument(
            "--worker",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="on PostgreSQL, a Celery worker process runs the stream-triggered steps, as "
            "the Procfile's topology (default); --no-worker: they are only enqueued",
        )


def worker_wanted(args: Any, kind: str) -> bool:
    """Whether a run on database ``kind`` has a Celery worker process of its own: the
    production topology is PostgreSQL, Redis and a worker; SQLite runs one in the server."""
    return kind == "postgres" and bool(getattr(args, "worker", False))


def parse_int_list(text: str) -> list[int]:
    """``"16,64"`` -> ``[16, 64]`` (for argparse ``type=``)."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from error
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"need non-negative integers: {text!r}")
    return values


def raise_fd_limit(needed: int) -> None:
    """Raise the soft open-files limit towards ``needed`` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def install_uvloop() -> bool:
    """Use uvloop for the benchmark's own client when it is installed."""
    try:
        import uvloop
    except ImportError:
        return False
    uvloop.install()
    return True


class Incomplete(Exception):
    """A benchmark finished but some measurement did not complete (exit status 1)."""


def log_failure(log: Callable[[str], None], error: Exception) -> None:
    """Why a benchmark ends with status 1; the traceback too, unless it merely was incomplete."""
    if not isinstance(error, Incomplete):
        traceback.print_exception(error, file=sys.stderr)
    log(f"exit 1: {type(error).__name__}: {error}")


# --- a temporary directory kept on error --------------------------------------------------------


@contextlib.contextmanager
def workdir(prefix: str, keep: bool, log: Callable[[str], None]) -> Iterator[Path]:
    """A temporary directory for databases, logs and scripts; kept on error or with --keep."""
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    failed = True
    try:
        yield path
        failed = False
    finally:
        if keep or failed:
            log(f"logs and files kept in {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


# --- processes -----------------------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Process:
    """A child process with its output appended to a log file. Every one started is
    remembered, so :func:`stop_all` can end them whatever happened."""

    started: list[Process] = []

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        cwd: Path,
        env: dict[str, str],
        logfile: Path,
        pipes: bool = False,
    ) -> None:
        """``pipes``: stdin and stdout are pipes to talk to (stderr still goes to the log)."""
        self.name, self.logfile = name, logfile
        with logfile.open("ab") as out:
            out.write(f"$ {' '.join(command)}  (cwd {cwd})\n".encode())
            out.flush()
            self.popen = subprocess.Popen(
                list(command),
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipes else out,
                stderr=out,
            )
        Process.started.append(self)

    def read_line(self, timeout: float) -> str:
        """One line of a piped stdout, waiting at most ``timeout`` seconds for it."""
        assert self.popen.stdout is not None
        ready, _, _ = select.select([self.popen.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"{self.name} wrote nothing within {timeout:.0f} s")
        return self.popen.stdout.readline().decode()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float) -> int:
        """The exit code; kills the process if it is still running after ``timeout``."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """``sig`` (graceful), then SIGKILL if it lingers. Only this process, by its pid."""
        if self.popen.stdin is not None:  # a piped helper ends at the end of its input
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(sig)
            try:
                self.popen.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                self.popen.wait(STOP_TIMEOUT)
        with contextlib.suppress(ValueError):
            Process.started.remove(self)
        return self.popen.returncode


def stop_all() -> None:
    """Stop every process still running that a benchmark started."""
    for process in list(Process.started):
        process.stop()


BENCH_SECRET_KEY = secrets.token_urlsafe(50)


def server_env(base: dict[str, str]) -> dict[str, str]:
    """The caller's environment without the settings the benchmark owns, plus ``base``;
    production flags: no debug, warnings only, no cron (no beat) during the benchmark."""
    env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV_OWNED}
    env.update(
        DJANGO_DEBUG="0",
        # With DEBUG off the server needs a key of its own; loopback HTTP, no HTTPS redirect.
        DJANGO_SECRET_KEY=BENCH_SECRET_KEY,
        DJANGO_HTTPS="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        STEPS_EMBEDDED_BEAT="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(base)
    return env


def uvicorn_command(python: str, app: str, port: int) -> list[str]:
    return [python, "-m", "uvicorn", app, "--host", HOST, "--port", str(port), *UVICORN_FLAGS]


# Loopback requests must not go through a proxy the caller's environment may name.
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wait_for_http(process: Process, url: str, timeout: float = START_TIMEOUT) -> None:
    """Return once ``url`` answers with any HTTP status; raise if the server exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited with {process.popen.returncode}")
        try:
            with NO_PROXY.open(url, timeout=2.0):
                return
        except urllib.error.HTTPError:
            return  # an answer: the server is up
        except (OSError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError(f"{process.name} did not answer {url} within {timeout:.0f} s")


def start_server(
    name: str, python: str, app: str, cwd: Path, env: dict[str, str], tmp: Path, probe: str = "/"
) -> tuple[Process, int]:
    """Start uvicorn serving ``app`` on a free port; returns once it answers HTTP."""
    port = free_port()
    process = Process(name, uvicorn_command(python, app, port), cwd, env, tmp / f"{name}.log")
    try:
        wait_for_http(process, f"http://{HOST}:{port}{probe}")
    except BaseException:
        process.stop()
        raise
    return process, port


def migrate(python: str, project: Path, env: dict[str, str], logfile: Path) -> None:
    """``manage.py migrate`` of ``project`` into the database ``env`` points to."""
    command = [python, "manage.py", "migrate", "--noinput"]
    code = Process("migrate", command, project, env, logfile).wait(MIGRATE_TIMEOUT)
    if code != 0:
        raise RuntimeError(f"migrate failed with {code}; see {logfile}")


def log_problems(logfile: Path, limit: int = 3) -> tuple[int, list[str]]:
    """How many lines of a server log report errors, and the most common kinds (with counts)."""
    if not logfile.exists():
        return 0, []
    pattern = re.compile(r"Traceback|\bERROR\b|\"level\":\s*\"error\"|Exception")
    kinds: collections.Counter[str] = collections.Counter()
    for line in logfile.read_text(errors="replace").splitlines():
        if pattern.search(line):
            kinds[error_summary(line)] += 1
    found = [f"{count}x {kind}" for kind, count in kinds.most_common(limit)]
    return sum(kinds.values()), found


def log_notes(directory: Path) -> list[str]:
    """A note for every server log in ``directory`` that reports errors."""
    notes = []
    for logfile in sorted(directory.glob("*.log")):
        count, kinds = log_problems(logfile)
        if count:
            notes.append(f"{logfile.name}: {count} error lines: {'; '.join(kinds)}")
    return notes


def error_summary(line: str) -> str:
    """One line of a log, shortened to what went wrong: the message and, for our structured
    JSON lines, the last line of the traceback."""
    try:
        record = json.loads(line)
    except ValueError:
        return line.strip()[:200]
    if not isinstance(record, dict):
        return line.strip()[:200]
    last = [ln for ln in str(record.get("exc", "")).splitlines() if ln.strip()][-1:]
    return " / ".join([str(record.get("msg", ""))[:120], *(ln.strip()[:200] for ln in last)])


def git_describe(project: Path) -> str:
    """The checkout's commit (with ``-dirty``), for telling before and after runs apart."""
    try:
        result = subprocess.run(
            ["git", "-C", str(project), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return result.stdout.strip() or "?"


# --- /proc figures -------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far, None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int | None:
    """Resident set size (VmRSS) of a process in KiB, None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far (/proc/stat)."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


@dataclass
class CpuWindow:
    """CPU use of a process and of the machine between :meth:`start` and :meth:`stop`."""

    pid: int
    process0: float | None = None
    machine0: tuple[int, int] = (0, 0)
    wall0: float = 0.0
    process_percent: float | None = None  # of one core
    machine_percent: float | None = None  # of all cores

    def start(self) -> CpuWindow:
        self.process0, self.machine0 = cpu_seconds(self.pid), machine_ticks()
        self.wall0 = time.monotonic()
        return self

    def stop(self) -> CpuWindow:
        wall = time.monotonic() - self.wall0
        process, machine = cpu_seconds(self.pid), machine_ticks()
        if self.process0 is not None and process is not None and wall > 0:
            self.process_percent = 100.0 * (process - self.process0) / wall
        if machine[1] > self.machine0[1]:
            busy = machine[0] - self.machine0[0]
            self.machine_percent = 100.0 * busy / (machine[1] - self.machine0[1])
        return self


def wait_idle(pid: int, timeout: float, below: float = 10.0, window: float = 0.5) -> bool:
    """Wait until a process uses under ``below`` % of a core over ``window`` seconds (work
    queued by the previous case has drained); False if it is still busy at ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(window)
        after = cpu_seconds(pid)
        if before is None or after is None or 100.0 * (after - before) / window < below:
            return True
    return False


class Sampler:
    """Calls ``sample()`` every ``interval`` seconds on a thread and keeps every value
    (``values``) and the maximum."""

    def __init__(self, sample: Callable[[], int | None], interval: float = 0.5) -> None:
        self.sample, self.interval = sample, interval
        self.values: list[int] = []
        self.maximum: int | None = None
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(self.interval * 4 + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                value = self.sample()
            except Exception as error:  # a sample failing must not end the measurement
                self.errors.append(f"{type(error).__name__}: {error}")
                value = None
            if value is not None:
                self.values.append(value)
                if self.maximum is None or value > self.maximum:
                    self.maximum = value
            self._stop.wait(self.interval)


# --- databases -----------------------------------------------------------------------------------


class Database:
    """A fresh database of the run: a SQLite file, or a PostgreSQL database (plus a private
    Redis channel prefix and Celery queue) that :meth:`drop` removes with its Redis keys.

    :meth:`open_monitor` opens the benchmark's own connections before any server runs, so a
    server that uses up PostgreSQL's connection slots cannot lock the benchmark out."""

    def __init__(
        self, kind: str, tmp: Path, tag: str | None = None, redis_url: str = REDIS_URL
    ) -> None:
        self.kind, self.redis_url = kind, redis_url
        self.tag = tag or uuid.uuid4().hex[:8]
        self.name = f"bench_{os.getpid()}_{self.tag}"
        self.sqlite_path = tmp / f"{self.name}.sqlite3"
        self.queue = f"bench-{self.tag}"
        self.created = False
        self.reader: Any = None  # the monitor's connection to this database
        self.admin: Any = None  # the monitor's connection to PostgreSQL's own database

    def create(self) -> Database:
        if self.kind == "postgres":
            with self._admin() as admin:
                admin.execute(f'CREATE DATABASE "{self.name}"')
        self.created = True
        return self

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:5432/{self.name}"

    def env(self) -> dict[str, str]:
        """The server settings selecting this database (and Redis, for PostgreSQL)."""
        if self.kind == "sqlite":
            return {"SQLITE_PATH": str(self.sqlite_path)}
        return {
            "DATABASE_URL": self.url,
            "REDIS_URL": self.redis_url,
            "CHANNELS_PREFIX": f"bench{self.tag}",  # keep off others' channels
            # The run's own queue, taken by the run's worker (bench/worker.py) if any, and
            # deleted at the end with whatever is left in it.
            "CELERY_QUEUE": self.queue,
        }

    def connect(self) -> Any:
        """A new DB-API connection (autocommit) to this database."""
        if self.kind == "sqlite":
            return sqlite3.connect(
                self.sqlite_path, timeout=30, isolation_level=None, check_same_thread=False
            )
        import psycopg

        url = self.url.replace("postgres://", "postgresql://")
        return psycopg.connect(url, autocommit=True, connect_timeout=10, application_name=MONITOR)

    def open_monitor(self) -> None:
        self.reader = self.connect()
        if self.kind == "postgres":
            self.admin = self._admin()

    def close_monitor(self) -> None:
        for connection in (self.reader, self.admin):
            if connection is not None:
                with contextlib.suppress(Exception):
                    connection.close()
        self.reader = self.admin = None

    def item_data(self, stream: str, group: str, item: str) -> dict[str, Any] | None:
        """The stored JSON of one stream item (None if there is none)."""
        p = "?" if self.kind == "sqlite" else "%s"
        query = (
            "SELECT i.data FROM streams_streamitem i JOIN streams_streamgroup g "
            f"ON i.group_id = g.id WHERE g.stream_name = {p} AND g.group_id = {p} "
            f"AND i.item_id = {p}"
        )
        if self.reader is None:
            with contextlib.closing(self.connect()) as connection:
                row = connection.execute(query, (stream, group, item)).fetchone()
        else:
            row = self.reader.execute(query, (stream, group, item)).fetchone()
        if row is None:
            return None
        data = row[0]
        return dict(json.loads(data) if isinstance(data, str | bytes) else data)

    def connection_count(self) -> int:
        """The servers' connections to this database right now (PostgreSQL; the monitor's
        own are not counted)."""
        row = self.admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
            "AND application_name IS DISTINCT FROM %s",
            (self.name, MONITOR),
        ).fetchone()
        return int(row[0])

    def drop(self) -> None:
        """Remove what the run created: the PostgreSQL database and its Redis keys."""
        self.close_monitor()
        if self.kind != "postgres" or not self.created:
            return
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        drop_redis_keys([self.queue, f"bench{self.tag}"], self.redis_url)
        self.created = False

    @staticmethod
    def _admin() -> Any:
        import psycopg

        return psycopg.connect(
            POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=10, application_name=MONITOR
        )


def drop_redis_keys(names: Sequence[str], url: str = REDIS_URL) -> int:
    """Delete the Redis keys whose name contains one of ``names`` (unique to this run), and
    the members naming them in kombu's shared binding sets (a worker's remote-control queue,
    ``<name>@host.celery.pidbox``, is bound in ``_kombu.binding.celery.pidbox``)."""
    import redis  # installed with channels-redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    deleted = 0
    try:
        for name in names:
            keys = list(client.scan_iter(match=f"*{name}*", count=1000))
            deleted += int(client.delete(*keys)) if keys else 0
        for key in client.scan_iter(match="_kombu.binding.*", count=1000):
            if client.type(key) != b"set":
                continue
            ours = [m for m in client.smembers(key) if any(n.encode() in m for n in names)]
            deleted += int(client.srem(key, *ours)) if ours else 0
        # kombu's expiry times of those binding sets: moot for a set now empty (gone).
        deadlines = "_kombu.binding_deadlines"
        for exchange in client.zrange(deadlines, 0, -1):
            if not client.exists(b"_kombu.binding." + exchange):
                client.zrem(deadlines, exchange)
    finally:
        client.close()
    return deleted


def sqlite_now() -> str:
    """A timestamp the way Django stores a DateTimeField in SQLite (naive UTC text)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(" ")


# --- statistics ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The value below which ``fraction`` of ``values`` lie (nearest rank), None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def ratio(ours: float | None, base: float | None) -> float | None:
    return ours / base if ours is not None and base else None


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def fmt_pair(first: float | None, second: float | None, digits: int = 1) -> str:
    return f"{fmt(first, digits)} / {fmt(second, digits)}"


# --- wrk -----------------------------------------------------------------------------------------

WRK = "/usr/bin/wrk"
WRK_TIMEOUT = "30s"  # a slow answer is a latency, not a socket error (wrk's default is 2 s)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def wrk_post_script(path: Path, body: str) -> Path:
    """A wrk Lua script sending POST with a JSON body (wrk counts the non-2xx answers)."""
    lua_body = body.replace("\\", "\\\\").replace('"', '\\"')
    path.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = "{lua_body}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return path


@dataclass
class WrkResult:
    """What one wrk run reported. ``ok`` counts the 2xx (and 3xx) answers."""

    connections: int
    duration: float  # seconds wrk ran
    requests: int = 0  # answers received, whatever their status
    non_2xx: int = 0  # wrk's "Non-2xx or 3xx responses" (status >= 400)
    socket_errors: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    )
    latency_ms: dict[str, float] = field(default_factory=dict)  # "50%" ... "99%"
    requests_per_second: float | None = None  # wrk's figure, all statuses
    error: str | None = None

    @property
    def ok(self) -> int:
        return max(0, self.requests - self.non_2xx)

    @property
    def ok_per_second(self) -> float | None:
        return self.ok / self.duration if self.duration else None

    @property
    def errors(self) -> int:
        return sum(self.socket_errors.values())

    @property
    def p50(self) -> float | None:
        return self.latency_ms.get("50%")

    @property
    def p99(self) -> float | None:
        return self.latency_ms.get("99%")

    def as_dict(self) -> dict[str, Any]:
        figures = asdict(self)
        figures.update(ok=self.ok, ok_per_second=self.ok_per_second, errors=self.errors)
        return figures


def _to_ms(number: str, unit: str) -> float:
    return float(number) * _UNIT_MS[unit]


def parse_wrk(output: str, connections: int) -> WrkResult:
    """The figures of wrk's ``--latency`` report."""
    result = WrkResult(connections=connections, duration=0.0)
    for key, number, unit in re.findall(
        r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M
    ):
        result.latency_ms[f"{key}%"] = _to_ms(number, unit)
    if found := re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", output):
        result.requests = int(found[1])
        result.duration = _to_ms(found[2], found[3]) / 1000.0
    if found := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        result.socket_errors = dict(
            zip(("connect", "read", "write", "timeout"), map(int, found.groups()), strict=True)
        )
    if found := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        result.non_2xx = int(found[1])
    if found := re.search(r"Requests/sec:\s+([\d.]+)", output):
        result.requests_per_second = float(found[1])
    if not result.requests:
        result.error = "wrk reported no completed request"
    return result


def run_wrk(
    url: str, connections: int, duration: float, script: Path, logfile: Path | None = None
) -> WrkResult:
    """``wrk -t1 -c<C> -d<D>s --latency -s <script>`` with a hard time limit."""
    command = [
        WRK,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--latency",
        "--timeout",
        WRK_TIMEOUT,
        "-s",
        str(script),
        url,
    ]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=duration + 60, check=False
        )
    except subprocess.TimeoutExpired:
        return WrkResult(connections, duration, error="wrk did not finish in time")
    if logfile is not None:
        with logfile.open("a") as out:
            out.write(f"$ {' '.join(command)}\n{completed.stdout}{completed.stderr}\n")
    result = parse_wrk(completed.stdout, connections)
    if completed.returncode != 0:
        result.error = f"wrk exited with {completed.returncode}: {completed.stderr.strip()[:200]}"
    return result


# --- reports -------------------------------------------------------------------------------------


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1
) -> str:
    """A markdown table; the first ``text_columns`` columns left-aligned, the rest right."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.ljust(w) if i < text_columns else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if i >= text_columns else "-" * (w + 2)
            for i, w in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def run_header(title: str, project: Path, python: str) -> dict[str, Any]:
    """What a reader needs to compare runs: when, where, which checkout, how busy."""
    return {
        "benchmark": title,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpus": os.cpu_count(),
        "load_average_before": round(os.getloadavg()[0], 2),
        "project": str(project),
        "commit": git_describe(project),
        "python": python,
    }


def header_line(header: dict[str, Any]) -> str:
    return (
        f"{header['benchmark']}: {header['project']} at {header['commit']}, "
        f"{header['cpus']} CPUs, load average before {header['load_average_before']}, "
        f"{header['started']}"
    )


def emit_json(document: dict[str, Any], path: Path | None, log: Callable[[str], None]) -> None:
    """The JSON document to ``path``, or to stdout after the table when no path is given."""
    text = json.dumps(document, indent=2, default=str)
    if path is None:
        print("\n" + text)
    else:
        path.write_text(text + "\n")
        log(f"JSON written to {path}")


def run_benchmark(
    name: str,
    args: Any,
    measure: Callable[[], Any],
    report: Callable[[dict[str, Any], Any], bool],
    log: Callable[[str], None],
) -> int:
    """The frame of a benchmark's ``main``: a work directory (``args.tmp``), every server
    stopped whatever happens, the report of what ``measure`` returned, the exit status (1 on
    an error or an incomplete measurement)."""
    header = run_header(name, args.project, args.python)
    try:
        with workdir(f"bench-{name}", args.keep, log) as tmp:
            args.tmp = tmp
            try:
                result = measure()
            finally:
                stop_all()
            if not report(header, result):
                raise Incomplete("some measurements did not complete")
    except Exception as error:
        log_failure(log, error)
        return 1
    return 0
