"""Real server processes for end-to-end tests.

:class:`TestDatabase` prepares a fresh, migrated database: a new SQLite file in a temporary
directory, or, when ``DATABASE_URL`` points at PostgreSQL, a uniquely named database created
for the test and dropped afterwards. Each is a copy of one database that ``manage.py migrate``
made for the whole test process (the SQLite file copied, PostgreSQL's ``CREATE DATABASE ...
TEMPLATE``): the same tables, in milliseconds instead of the seconds a migrate takes.
:class:`ServerProcess` runs ``manage.py runserver 127.0.0.1:<free port> --noreload`` on it
(several may share one database), waits until HTTP answers and stops it again (terminate,
then kill; in the background when its ``with`` block ends, as a test has no more use for
it). :class:`WorkerProcess` runs a real ``celery -A motia_site worker`` on the same database,
waits until it is ready, and stops it the same way (or kills it outright).
``REDIS_URL`` passes through to servers and workers; extra environment
(``STREAMS_AUTHENTICATE``, ``CELERY_QUEUE`` ...) is given per process.

Usage (tests mostly get them from the fixtures of ``tests/conftest.py``: ``database``,
``start``, ``server``)::

    with TestDatabase(tmp_path) as database, ServerProcess(database) as server:
        httpx.post(f"{server.http_url}/todos", json={"description": "x"})
"""

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
START_TIMEOUT = 30.0
STOP_TIMEOUT = 3.0
# Environment of the test process that must not leak into a server's own choices.
_DATABASE_ENV = ("DATABASE_URL", "SQLITE_PATH")
# A process on the embedded default (in-process broker and worker), whatever the test pass.
EMBEDDED = {"REDIS_URL": "", "CELERY_BROKER_URL": "memory://"}
# Servers that let in only handshakes with a valid token (the example app's authenticator).
AUTHENTICATE = {"STREAMS_AUTHENTICATE": "examples.auth.authenticate_stream"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def terminate(process: "subprocess.Popen[bytes]", timeout: float) -> None:
    """SIGTERM ``process``, and SIGKILL it if it has not exited within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT)


def _is_postgres(url: str) -> bool:
    return urlsplit(url).scheme in {"postgres", "postgresql", "pgsql", "postgis"}


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _admin(base_url: str, sql: str) -> None:
    """Run ``sql`` on the PostgreSQL server of ``base_url``, in its ``postgres`` database."""
    import psycopg

    admin_url = _with_database(base_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(sql)


def migrate(database_env: Mapping[str, str]) -> None:
    """Run ``manage.py migrate`` on the database that ``database_env`` names (``SQLITE_PATH``
    or ``DATABASE_URL``)."""
    result = subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=server_environment(database_env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"manage.py migrate failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )


# The migrated database of this process that each TestDatabase is a copy of, by server
# ("" for SQLite): the SQLite file's path, or the PostgreSQL database's name.
_migrated: dict[str, str] = {}


def _migrated_template(base_url: str | None) -> str:
    """The database migrated once for this process (made on first use, gone at its exit)."""
    key = base_url or ""
    if key in _migrated:
        return _migrated[key]
    if base_url is None:
        directory = tempfile.mkdtemp(prefix="e2e-migrated-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        path = str(Path(directory) / "db.sqlite3")
        migrate({"SQLITE_PATH": path})
        _migrated[key] = path
        return path
    name = f"e2e_migrated_{uuid.uuid4().hex[:12]}"
    _admin(base_url, f"CREATE DATABASE {_quote_ident(name)}")
    drop = f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)"
    try:
        migrate({"DATABASE_URL": _with_database(base_url, name)})
    except BaseException:
        _admin(base_url, drop)
        raise
    atexit.register(_admin, base_url, drop)
    _migrated[key] = name
    return name


def _create_from_template(base_url: str, name: str, template: str) -> None:
    """``CREATE DATABASE name TEMPLATE template``. PostgreSQL refuses while a session is
    still on the template: the migrate's own may take a moment to end after its process."""
    import psycopg

    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            _admin(
                base_url,
                f"CREATE DATABASE {_quote_ident(name)} TEMPLATE {_quote_ident(template)}",
            )
            return
        except psycopg.errors.ObjectInUse:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class TestDatabase:
    """A fresh, migrated database for one test; servers started on it share it.

    ``env`` holds what a server process needs to use it (``SQLITE_PATH`` or ``DATABASE_URL``,
    plus a ``CHANNELS_PREFIX`` of its own so that servers of other tests sharing the Redis
    server never see its events).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path, database_url: str | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        if database_url is None:
            database_url = os.environ.get("DATABASE_URL") or None
        self.base_url = database_url
        self.name = f"e2e_{uuid.uuid4().hex[:12]}"
        # A Celery queue of its own too: messages that no worker of this test takes would
        # otherwise pile up in the shared Redis's default queue, run after run (drop() deletes
        # the queue).
        self.env: dict[str, str] = {"CHANNELS_PREFIX": self.name, **self.own_queue}
        if database_url and _is_postgres(database_url):
            self.url: str | None = _with_database(database_url, self.name)
            self.env["DATABASE_URL"] = self.url
        elif database_url:
            raise ValueError(f"unsupported DATABASE_URL for end-to-end tests: {database_url!r}")
        else:
            self.url = None
            self.env["SQLITE_PATH"] = str(self.directory / "db.sqlite3")
        self._created = False

    @property
    def is_postgres(self) -> bool:
        return self.url is not None

    @property
    def own_queue(self) -> dict[str, str]:
        """Environment that gives the processes on this database a Celery queue of their own,
        so that workers of other tests sharing a Redis never take their tasks."""
        return {"CELERY_QUEUE": f"steps-{self.name}"}

    @property
    def admin_url(self) -> str:
        """PostgreSQL: the server's ``postgres`` database (connections there are not this
        database's)."""
        assert self.base_url is not None
        return _with_database(self.base_url, "postgres")

    def __enter__(self) -> Self:
        try:
            template = _migrated_template(self.base_url)
            if self.is_postgres:
                assert self.base_url is not None
                _create_from_template(self.base_url, self.name, template)
                self._created = True
            else:
                shutil.copyfile(template, self.env["SQLITE_PATH"])
        except BaseException:
            self.drop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.drop()

    def migrate(self) -> None:
        """Run ``manage.py migrate`` on this database."""
        migrate(self.env)

    def drop(self) -> None:
        """Drop the PostgreSQL database (a SQLite file goes with its temporary directory) and
        this database's Celery queue in the shared Redis."""
        if self.is_postgres and self._created:
            self._admin(f"DROP DATABASE IF EXISTS {_quote_ident(self.name)} WITH (FORCE)")
            self._created = False
        delete_queue(self.own_queue["CELERY_QUEUE"])

    def refuse_connections(self) -> None:
        """PostgreSQL: refuse new connections to this database and end the open ones, as a
        database server that went away would (undone by :meth:`accept_connections`). Returns
        once the ended sessions are gone, as after a restart (each waited for up to 5 s)."""
        self._admin(f"ALTER DATABASE {_quote_ident(self.name)} ALLOW_CONNECTIONS false")
        self._admin(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            f" WHERE datname = '{self.name}' AND pid <> pg_backend_pid()"
        )

    def accept_connections(self) -> None:
        self._admin(f"ALTER DATABASE {_quote_ident(self.name)} ALLOW_CONNECTIONS true")

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` run on this database (PostgreSQL or the SQLite file), committed."""
        if not self.is_postgres:
            path = self.env["SQLITE_PATH"]
            with contextlib.closing(sqlite3.connect(path, timeout=5)) as db, db:  # commits
                return db.execute(sql).fetchall()
        import psycopg

        assert self.url is not None
        with psycopg.connect(self.url, connect_timeout=5) as connection:
            return connection.execute(sql).fetchall()

    def _admin(self, sql: str) -> None:
        assert self.base_url is not None
        _admin(self.base_url, sql)


def delete_queue(queue: str) -> None:
    """Delete a Celery queue of the tests, and kombu's bindings of it, from the Redis of
    ``REDIS_URL`` (a test that stops its servers leaves no messages behind)."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        keys = [queue, *client.scan_iter(match=f"_kombu.binding*{queue}", count=1000)]
        client.delete(*keys)
    except redis.RedisError:
        pass  # the test may have stopped Redis; nothing to clean then
    finally:
        client.close()


def server_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of a server process: ours (``REDIS_URL`` included) without our own
    database choice, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _DATABASE_ENV}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Started:
    """A process of a test: a ``with`` block around ``start()`` and ``stop()``; its ``name``
    and its output, in ``log_path``."""

    name: str
    log_path: Path

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def log(self) -> str:
        """Everything the process has written so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


P = TypeVar("P", bound=Started)


class Start(Protocol):
    """The ``start`` fixture: ``start(process)`` starts it for the test and returns it."""

    def __call__(self, process: P) -> P: ...


class _ManagedProcess(Started):
    """A child process of a test with its output in a log file: started by ``start()``,
    stopped (terminate, then kill) by ``stop()`` or on leaving its ``with`` block."""

    def __init__(
        self, database: TestDatabase, env: Mapping[str, str] | None, name: str, log_name: str
    ) -> None:
        self.database = database
        self.extra_env = dict(env or {})
        self.name = name
        self.log_path = database.directory / f"{log_name}-{uuid.uuid4().hex[:6]}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    def stop(self) -> None:
        """Terminate the process (kill it if it does not exit) and close its log."""
        process = self._detach()
        if process is not None:
            terminate(process, STOP_TIMEOUT)

    def _detach(self) -> subprocess.Popen[bytes] | None:
        """The running process, no longer ours, with our copy of its log closed (the process
        writes to its own until it exits)."""
        process, self.process = self.process, None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return process

    def kill(self) -> None:
        """SIGKILL the process: no shutdown, nothing finished, nothing given back."""
        assert self.process is not None, f"{self.name} is not running"
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT)


# Servers of tests that are over, ending in threads (see ServerProcess.stop_in_background).
_ending: list[threading.Thread] = []


def wait_for_ended() -> None:
    """Wait until every server stopped by ``stop_in_background`` has exited."""
    while _ending:
        _ending.pop().join()


class ServerProcess(_ManagedProcess):
    """A server on a free loopback port, serving HTTP and WebSocket: ``manage.py runserver``,
    or with ``production=True`` uvicorn as the Procfile runs it in production; ``asgi_server``
    names another ASGI server to run the project's application under (``granian``,
    ``hypercorn``; ``uvicorn`` is ``production=True``)."""

    def __init__(
        self,
        database: TestDatabase,
        env: Mapping[str, str] | None = None,
        name: str = "server",
        *,
        production: bool = False,
        asgi_server: str | None = None,
    ) -> None:
        super().__init__(database, env, name, log_name=name)
        self.port = 0
        self.asgi_server = "uvicorn" if production else asgi_server
        self.production = self.asgi_server == "uvicorn"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Leaving its ``with`` block (the end of a test or of a module's fixture) stops the
        server in the background: :meth:`stop_in_background`."""
        self.stop_in_background()

    def stop_in_background(self) -> None:
        """:meth:`stop` in a thread (SIGTERM, SIGKILL if it has not exited within
        ``STOP_TIMEOUT``), for the end of a test, which waits for nothing of it: a server's
        embedded Celery worker takes about 2 s to stop, the next test need not wait for it.
        Its port stays taken until it exits (``free_port`` never hands it out meanwhile), and
        :func:`wait_for_ended` waits for it at the end of the session. A test that needs the
        server gone calls :meth:`stop`."""
        process = self._detach()
        if process is not None:
            ending = threading.Thread(
                target=terminate, args=(process, STOP_TIMEOUT), name=f"stopping {self.name}"
            )
            ending.start()
            _ending.append(ending)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def http_client(self, timeout: float) -> httpx.AsyncClient:
        """An HTTP client of this server (relative URLs), waiting at most ``timeout`` s."""
        return httpx.AsyncClient(base_url=self.http_url, timeout=timeout)

    def start(self, attempts: int = 3) -> None:
        """Start the server and wait until it answers HTTP; retry on a port taken meanwhile."""
        for attempt in range(1, attempts + 1):
            self.port = free_port()
            if self._serve(last_try=attempt == attempts):
                return

    def restart(self) -> None:
        """Start the server again on the port and database it had (stopping it first if it
        still runs), so that clients reconnecting to the same address find it. The old socket
        may linger a moment: a port still in use is tried again until ``START_TIMEOUT``."""
        assert self.port, f"{self.name} was never started"
        self.stop()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._serve(last_try=time.monotonic() > deadline):
            time.sleep(0.2)

    def _serve(self, last_try: bool) -> bool:
        """Spawn the server on ``self.port`` and wait until it answers (True). A port in use
        is False, to try again, unless this is the last try: then, as any failure, it raises."""
        log_size = len(self.log())
        self._spawn()
        try:
            self._wait_until_ready()
            return True
        except RuntimeError:
            self.stop()
            if last_try or "already in use" not in self.log()[log_size:]:
                raise
            return False
        except BaseException:
            self.stop()
            raise

    def _spawn(self) -> None:
        env = server_environment({**self.database.env, **self.extra_env})
        self._log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self._command(),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def _command(self) -> list[str]:
        application, port = "motia_site.asgi:application", str(self.port)
        if self.asgi_server is None:
            return [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
        if self.asgi_server == "granian":
            return [
                *(PYTHON, "-m", "granian", "--interface", "asgi"),
                *("--host", "127.0.0.1", "--port", port, application),
            ]
        if self.asgi_server == "hypercorn":
            return [PYTHON, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", application]
        assert self.asgi_server == "uvicorn", f"unknown ASGI server {self.asgi_server!r}"
        return [
            *(PYTHON, "-m", "uvicorn", application, "--host", "127.0.0.1", "--port", port),
            *("--ws", "websockets-sansio", "--loop", "uvloop", "--ws-per-message-deflate", "false"),
        ]

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} before answering:\n"
                    + self.log()
                )
            try:
                httpx.get(f"{self.http_url}/", timeout=1.0)
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            return  # any HTTP answer (even a 404) means the server is up
        raise RuntimeError(
            f"{self.name} did not answer HTTP within {START_TIMEOUT}s:\n{self.log()}"
        )


class WorkerProcess(_ManagedProcess):
    """A real ``celery -A motia_site worker`` process on a test database.

    It needs a real broker (``REDIS_URL`` in our environment or in ``env``); give it the same
    ``CELERY_QUEUE`` as the servers that enqueue for it. Its hostname is ``<name>@<host>``,
    which step runs record as their worker.
    """

    READY = re.compile(rb"\] (\S+@\S+) ready\.")

    def __init__(
        self,
        database: TestDatabase,
        env: Mapping[str, str] | None = None,
        name: str = "w1",
        pool: str = "threads",
        concurrency: int = 4,
    ) -> None:
        super().__init__(database, env, name, log_name=f"worker-{name}")
        self.pool = pool
        self.concurrency = concurrency
        self.hostname = ""  # ``name@host`` once ready

    @property
    def pid(self) -> int:
        assert self.process is not None, f"worker {self.name} is not running"
        return self.process.pid

    def start(self) -> None:
        """Start the worker and wait until it logs that it is ready to consume."""
        env = server_environment({**self.database.env, **self.extra_env})
        self._log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                *(PYTHON, "-m", "celery", "-A", "motia_site", "worker", "--loglevel=INFO"),
                *("-P", self.pool, "-c", str(self.concurrency), "-n", f"{self.name}@%h"),
                *("--without-heartbeat", "--without-gossip", "--without-mingle"),
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            ready = self.READY.search(self.log_path.read_bytes())
            if ready:
                self.hostname = ready.group(1).decode()
                return
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"worker {self.name} exited with {self.process.returncode} before it was "
                    f"ready:\n{self.log()}"
                )
            time.sleep(0.1)
        raise RuntimeError(
            f"worker {self.name} was not ready within {START_TIMEOUT}s:\n{self.log()}"
        )


class RedisServer(Started):
    """A ``redis-server`` of the test's own, on a free port: a test may stop it and start it
    again (on the same port) without touching the machine's Redis. It keeps its data in an
    append-only file written on every command, as a broker's Redis must (a restart of one that
    keeps nothing on disk loses every queued message)."""

    def __init__(self, directory: Path, name: str = "redis") -> None:
        self.directory = Path(directory)
        self.name = name
        self.port = free_port()
        self.log_path = self.directory / f"{name}-{uuid.uuid4().hex[:6]}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "yes", "--appendfsync", "always"]
        command += ["--dir", str(self.directory), "--logfile", ""]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited before answering:\n{self.log()}")
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer within {START_TIMEOUT}s")

    def stop(self) -> None:
        """Shut the server down (SIGTERM: it finishes writing its file first)."""
        process, self.process = self.process, None
        if process is not None:
            terminate(process, START_TIMEOUT)


@contextlib.contextmanager
def logs_on_failure(request: pytest.FixtureRequest, processes: Iterable[Started]) -> Iterator[None]:
    """In a fixture: print the logs of ``processes`` (servers, workers; read when the test is
    over, so a list may still grow) if the test fails. pytest shows them with the failure, as
    "Captured stdout teardown"."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        for process in processes:
            print(f"----- log of {process.name} -----")
            print(process.log())
