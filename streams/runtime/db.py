"""Where the engine's database work runs: a fixed set of long-lived threads.

Under ASGI, Django runs sync code in a thread made for each request, and every thread opens a
connection of its own: a thread started and a connection opened per request, and on
PostgreSQL more connections than the server allows under load. The engine's async code
(the Stream API, snapshots for joins, sync hooks and handlers, step-run records) instead runs
its queries here: ``STREAMS_DB_THREADS`` threads, each keeping one connection for its
whole life (taken from the pool on PostgreSQL). SQLite gets one thread: its writers take turns
anyway, and a single writer never sleeps in SQLite's busy handler.

On SQLite in WAL mode, a commit of these threads does not copy the WAL back into the database
file: a thread of its own does (:mod:`streams.runtime.checkpoints`).

A connection kept that long outlives a restart of the database: before each job, a thread
drops the connections the database ended meanwhile (:mod:`streams.runtime.liveness`), so that the
job opens a fresh one instead of failing on the old one.

Sync code that runs in a thread of its own (the admin, a plain handler in a worker) keeps using
its own connection, so ``transaction.atomic()`` around Stream API calls still means one
transaction.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from django.db import connections

from ..conf import engine_settings
from . import checkpoints, lifecycle
from .liveness import drop_if_ended

logger = logging.getLogger("streams.db")

T = TypeVar("T")
# A job and where its outcome goes: ``done(result, error)``, called on the database thread.
Job = tuple[contextvars.Context, Callable[..., Any], tuple[Any, ...], Callable[[Any, Any], None]]


class DatabaseThreads:
    """A fixed set of threads taking jobs from one queue, each with its own connections."""

    def __init__(self, count: int) -> None:
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"streams-db-{n}", daemon=True)
            for n in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...], done: Any) -> None:
        self._jobs.put((contextvars.copy_context(), fn, args, done))

    def stop(self) -> None:
        """Finish the queued jobs, close every thread's connections and end the threads."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        checkpoints.leave_checkpoints_to_the_checkpointer()
        try:
            while (job := self._jobs.get()) is not None:
                context, fn, args, done = job
                _drop_ended_connections()
                try:
                    result = context.run(fn, *args)
                except BaseException as error:
                    done(None, error)
                else:
                    done(result, None)
                finally:
                    _drop_broken_connections()
        finally:
            connections.close_all()


def _drop_ended_connections() -> None:
    """Before a job: close the connections the database ended since the last one. Never
    raises: the job runs whatever happens here (it fails on its own if it must)."""
    for connection in connections.all(initialized_only=True):
        try:
            if drop_if_ended(connection):
                logger.warning(
                    "the database ended a connection of %s; reconnecting", connection.alias
                )
        except Exception:
            logger.exception("could not check a connection of %s", connection.alias)


def _drop_broken_connections() -> None:
    """Keep the thread's connections, unless a database error left one unusable."""
    for connection in connections.all(initialized_only=True):
        # With DEBUG on, Django keeps each query's SQL until the next request starts, which
        # never comes on these threads: 9,000 statements with their items' JSON.
        connection.queries_log.clear()
        if connection.errors_occurred:
            if connection.is_usable():
                connection.errors_occurred = False
            else:
                connection.close()


def _start() -> DatabaseThreads:
    return DatabaseThreads(engine_settings.STREAMS_DB_THREADS)


# Started on the first query; stopped by streams.runtime.lifecycle (tests, process exit).
service = lifecycle.register("database", lifecycle.Stage.DATABASE, _start, DatabaseThreads.stop)
_pool = service.ensure


async def run(fn: Callable[..., T], *args: Any) -> T:
    """Await ``fn(*args)`` run on a database thread, in the caller's context (context
    variables such as the trace id travel with it)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def done(result: Any, error: BaseException | None) -> None:
        loop.call_soon_threadsafe(_settle, future, result, error)

    _pool().submit(fn, args, done)
    return await future


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():  # the caller went away; the job itself ran to its end
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def call(fn: Callable[..., T], *args: Any) -> Future[T]:
    """Run ``fn(*args)`` on a database thread, from sync code; the future has its outcome."""
    future: Future[T] = Future()

    def done(result: Any, error: BaseException | None) -> None:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    _pool().submit(fn, args, done)
    return future


def shutdown() -> None:
    """Stop the database threads, closing their connections (the next query starts them
    again); :func:`streams.runtime.lifecycle.stop` stops them with the other services."""
    service.stop()
