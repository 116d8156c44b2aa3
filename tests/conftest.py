"""Shared fixtures (the helpers they use are in ``tests/helpers/``).

In this process: ``events`` (committed stream events), ``define_stream`` and ``define_step``
(a stream or a step in the project's registries for one test), ``worker`` (this process's
Celery worker). Real processes: ``database`` (a fresh database of the test's own), ``start``
(a server, worker or Redis started for the test, its log printed if the test failed),
``server`` and ``auth_server`` (one that checks tokens, shared by a module).

Tests that touch the database from threads or from a WebSocket consumer use
``@pytest.mark.django_db(transaction=True)``: the consumer reads in worker threads, which only
see committed rows. With ``DATABASE_URL``/``REDIS_URL`` set (the services pass of ``make
test``) the same tests run on PostgreSQL and the Redis pub/sub layer.
"""

import contextlib
import inspect
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from celery import current_app
from channels.layers import channel_layers
from django.conf import settings
from django.db import connections
from django.test import override_settings

from steps.definitions.step_registry import Step
from steps.definitions.step_registry import registry as project_steps
from steps.records.runs import recorder
from steps.running.worker import start_worker_thread
from streams import StreamConfig
from streams.definitions.stream_registry import registry
from streams.publishing.events import StreamEvent
from streams.publishing.hub import _hubs, reset_hubs
from streams.runtime import lifecycle
from streams.signals import stream_event
from tests.helpers.processes import (
    AUTHENTICATE,
    P,
    ServerProcess,
    Start,
    Started,
    TestDatabase,
    delete_queue,
    logs_on_failure,
    wait_for_ended,
)
from tests.helpers.step_builder import build_step, nothing

# Steps queued by this test run go to a queue of its own, so that runs sharing a Redis broker
# never run each other's tasks.
current_app.conf.task_default_queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-test-{os.getpid()}"
# No cron steps firing in the middle of tests (the embedded worker still runs queued steps);
# for the whole session, through override_settings so that the engine's settings hear of it.
override_settings(STEPS_EMBEDDED_BEAT=False).enable()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"database: {settings.DATABASES['default']['ENGINE']}",
        f"channel layer: {settings.CHANNEL_LAYERS['default']['BACKEND']}",
    ]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Leave no messages of this run in a shared Redis, and no server of a test running."""
    delete_queue(current_app.conf.task_default_queue)
    wait_for_ended()


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI, a configured service that is down fails the run instead of skipping tests."""
    if not os.environ.get("CI"):
        return
    from tests.services import reachable

    database_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    if (database_url or redis_url) and not reachable(
        database_url or "postgres://postgres@127.0.0.1:5432/test",
        redis_url or "redis://127.0.0.1:6379/0",
    ):
        pytest.exit("CI: PostgreSQL or Redis is configured but not reachable", returncode=1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Step runs a test left unwritten are its own: drop them before its database is reset,
    so that the batched recorder never writes them into the next test's."""
    recorder.discard()
    yield


@pytest.fixture(autouse=True)
def fresh_channel_layer(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test gets its own channel layer and hub (each async test has its own loop)."""
    channel_layers.backends.clear()
    _hubs.clear()
    if inspect.iscoroutinefunction(getattr(request, "function", None)):
        # Its teardown runs after this fixture's would: so this one has none.
        request.getfixturevalue("stop_hub_in_loop")
    yield


@pytest.fixture
async def stop_hub_in_loop() -> AsyncIterator[None]:
    """Stop the test loop's hub and close the layer's connections while the loop still runs;
    left to the loop's shutdown, the Redis layer's tasks can keep it from closing."""
    yield
    await reset_hubs()
    layer = channel_layers.backends.get("default")
    if layer is not None and hasattr(layer, "flush"):
        await layer.flush()


@pytest.fixture(autouse=True, scope="session")
def stop_engine(django_db_setup: None) -> Iterator[None]:
    """The engine's threads stop, in order, at the end of the session: the database threads
    hold their connections for good, and must let go before the test database is dropped."""
    yield
    lifecycle.stop()


@pytest.fixture(autouse=True)
def close_worker_thread_connections() -> Iterator[None]:
    """Async code runs its queries on asgiref's shared worker thread, whose connection would
    outlive the test (and keep PostgreSQL from dropping the test database)."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture
def events() -> Iterator[list[StreamEvent]]:
    """Stream events as they are committed (what subscribers and stream triggers get)."""
    seen: list[StreamEvent] = []
    test_thread = threading.get_ident()

    def receive(sender: Any, event: StreamEvent, **_: Any) -> None:
        # Only this test's own writes: workers of this process may be writing too.
        if threading.get_ident() == test_thread:
            seen.append(event)

    stream_event.connect(receive, dispatch_uid="tests.events")
    yield seen
    stream_event.disconnect(dispatch_uid="tests.events")


@pytest.fixture(autouse=True)
def streams_left_defined(request: pytest.FixtureRequest) -> Iterator[None]:
    """A stream a test left in the registry is taken out and named in a warning: left there,
    it would make every later test that defines a stream of that name fail."""
    before = set(registry.names())
    yield
    # Streams provided on first use (Motia's ``Stream("name")``, its state) stay: code keeps them.
    left = set(registry.names()) - before - registry._provided
    for name in left:
        registry.unregister(name)
    if left:
        request.node.warn(pytest.PytestWarning(f"streams left defined: {sorted(left)}"))


@pytest.fixture
def define_stream() -> Iterator[Callable[..., StreamConfig]]:
    """Register a stream for one test: ``define_stream("counter", schema=None)``."""
    added: list[str] = []

    def define(name: str, **options: Any) -> StreamConfig:
        config = registry.register(StreamConfig(name=name, **options))
        added.append(name)
        return config

    yield define
    for name in added:
        registry.unregister(name)


@pytest.fixture(scope="session")
def worker() -> None:
    """This process's Celery worker (the embedded one, or one on Redis in the services pass),
    started once for the session, without beat."""
    start_worker_thread(beat=False)


@pytest.fixture
def define_step() -> Iterator[Callable[..., Step]]:
    """Put a step in the project's registry for one test (see ``build_step``):
    ``define_step(handler, name="Tick", triggers=[{"type": "queue", "topic": "tick"}])``."""
    added: list[str] = []

    def define(handler: Callable[..., Any] = nothing, /, **config: Any) -> Step:
        step = project_steps.register(build_step(handler, **config))
        added.append(step.name)
        return step

    yield define
    for name in added:
        project_steps.unregister(name)


# --- real processes (tests.helpers.processes) -----------------------------------------------


@pytest.fixture
def database(tmp_path: Path) -> Iterator[TestDatabase]:
    """A fresh, migrated database of the test's own (a SQLite file, or a PostgreSQL database
    in the services pass)."""
    with TestDatabase(tmp_path) as database:
        yield database


@pytest.fixture
def start(request: pytest.FixtureRequest, database: TestDatabase) -> Iterator[Start]:
    """``start(ServerProcess(database, env))``: a server, worker or Redis started now and
    stopped when the test is over (before its database is dropped; a server ends in the
    background, see ``ServerProcess``); the logs of all are printed if the test failed."""
    started: list[Started] = []
    with contextlib.ExitStack() as stack, logs_on_failure(request, started):

        def enter(process: P) -> P:
            started.append(process)
            stack.enter_context(process)
            return process

        yield enter


@pytest.fixture
def server(database: TestDatabase, start: Start) -> ServerProcess:
    """A server on a fresh database."""
    return start(ServerProcess(database))


def shared_server(name: str, env: dict[str, str]) -> tuple[Any, Any]:
    """Two fixtures: ``_<name>``, a server on a database of its own, started once for the
    module that uses it, and ``<name>``, that server for one test, its log printed if the test
    fails."""

    @pytest.fixture(scope="module", name=f"_{name}")
    def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
        with (
            TestDatabase(tmp_path_factory.mktemp(name)) as database,
            ServerProcess(database, env, name=name) as server,
        ):
            yield server

    @pytest.fixture(name=name)
    def logged(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
        server = request.getfixturevalue(f"_{name}")
        with logs_on_failure(request, [server]):
            yield server

    return started, logged


# A server that lets in only handshakes with a valid token.
_auth_server, auth_server = shared_server("auth_server", AUTHENTICATE)
# A server of the project's steps and those of ``tests.http_app``: route precedence,
# JSON-schema bodies, conditions, middleware.
_http_server, http_server = shared_server(
    "http_server", {"DJANGO_SETTINGS_MODULE": "tests.http_settings"}
)
