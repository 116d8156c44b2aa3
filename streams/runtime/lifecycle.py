"""The engine's background threads and pools, started and stopped in one place.

Each background service of a process (a thread, or a pool of them) registers here with a name,
how it starts and how it stops (:func:`register`). It starts as it always did: on first use
(:meth:`Service.ensure`, the database threads on the first query, the sender on the first
run to send...) or as the server starts (the embedded worker). :func:`stop` stops every
running service, stage by stage (:class:`Stage`, given as it registers); the engine can then
start again in the same process (tests do). It is called when the process exits
(``atexit``), when an ASGI server shuts the application down (:func:`lifespan`), and by the
test suite.

A service stops before the services it hands work to, so that what it still holds reaches
them: the worker's handlers write, send and publish; the database threads' last commits hand
step runs to the sender and events to the publisher. A service started again while others
stop (work handed on during the stop) is stopped by another pass.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import logging
import threading
from collections.abc import Callable
from enum import IntEnum
from typing import Any, Generic, TypeVar

logger = logging.getLogger("streams.lifecycle")

T = TypeVar("T")


class Stage(IntEnum):
    """When a service stops, by what it does: a lower stage stops first. A service stops
    before the services it hands work to."""

    WATCH = 10  # watching files (runserver's watch of step and stream files)
    SCHEDULE = 20  # sending work on a schedule (the embedded beat)
    RUN = 30  # running work handed to it (the embedded worker: its handlers use all below)
    SIDE = 40  # side work: heartbeats, health checks
    CALL = 50  # running plain calls (hooks and handlers on the sync threads)
    RECORD = 60  # writing records through the database threads (step runs)
    DATABASE = 70  # the database threads: their commits hand work to the senders
    CHECKPOINT = 75  # copying SQLite's write-ahead log back (after the last commits)
    SEND = 80  # sending to the broker and the channel layer (no database needed)


# Passes of stop() while services were started again during the previous one.
MAX_PASSES = 3


class Service(Generic[T]):
    """One background service: what ``start`` returns (a thread, a pool...) while it runs,
    made on first use, given to ``stop`` to end it."""

    def __init__(
        self,
        name: str,
        stage: Stage,
        start: Callable[[], T],
        stop: Callable[[T], None],
        alive: Callable[[T], bool] | None = None,
    ) -> None:
        self.name = name
        self.stage = stage
        self._start = start
        self._stop = stop
        # Whether what runs still does (a thread that died is started again on next use).
        self._alive = alive
        self._lock = threading.Lock()
        self._running: T | None = None

    @property
    def running(self) -> T | None:
        """What runs now, None when the service is stopped."""
        return self._running

    def ensure(self) -> T:
        """What runs, started first if it does not run. Without a lock once started: it is
        on the path of every query, send and publish."""
        running = self._running
        if running is not None and (self._alive is None or self._alive(running)):
            return running
        with self._lock:
            running = self._running
            if running is None or (self._alive is not None and not self._alive(running)):
                running = self._running = self._start()
                logger.debug("%s started", self.name)
            return running

    def stop(self) -> bool:
        """Stop the service if it runs (True then); it starts again on next use."""
        with self._lock:
            running, self._running = self._running, None
        if running is None:
            return False
        try:
            self._stop(running)
        except Exception:
            logger.exception("%s did not stop cleanly", self.name)
        logger.debug("%s stopped", self.name)
        return True


class LoopThread:
    """A daemon thread that runs ``loop(stopping)`` until its :meth:`stop` sets ``stopping``:
    what a service that is one such thread starts and stops."""

    def __init__(self, loop: Callable[[threading.Event], object], name: str) -> None:
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=loop, args=(self.stopping,), name=name, daemon=True)
        self.thread.start()

    def is_alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self, wake: Callable[[], object] | None = None, timeout: float | None = None) -> None:
        """Set ``stopping``, ``wake`` the loop if it waits on something else, and join."""
        self.stopping.set()
        if wake is not None:
            wake()
        self.thread.join(timeout)


_services: dict[str, Service[Any]] = {}
_stopping = threading.Lock()


def register(
    name: str,
    stage: Stage,
    start: Callable[[], T],
    stop: Callable[[T], None],
    alive: Callable[[T], bool] | None = None,
) -> Service[T]:
    """The service ``name``, started by ``start`` and stopped by ``stop`` with the others of
    its ``stage``; registering a name again replaces the service."""
    service = Service(name, stage, start, stop, alive)
    _services[name] = service
    return service


def stop_order() -> list[Service[Any]]:
    """The services known, in the order they stop (by stage, then as registered)."""
    return sorted(_services.values(), key=lambda service: service.stage)


def running() -> list[str]:
    """The names of the services that run now, in stop order."""
    return [service.name for service in stop_order() if service.running]


def stop() -> None:
    """Stop every running service, stage by stage, and again those a stop started anew;
    they start again on next use."""
    with _stopping:
        for _ in range(MAX_PASSES):
            for service in stop_order():
                service.stop()
            if not running():
                return
        logger.warning("services still running after stopping: %s", ", ".join(running()))


atexit.register(stop)


# The young generation's threshold while serving (Python's default: 700 allocations).
YOUNG_THRESHOLD = 5000


def tune_collector() -> None:
    """Set the garbage collector up for serving, once the application has loaded.

    - The objects that exist by then (Django's apps, models, settings and URL patterns, the
      modules: a hundred thousand and more, which live as long as the process) are moved out
      of its sight (``gc.freeze``): a full collection walks every object it sees.
    - Its young generation is collected every ``YOUNG_THRESHOLD`` allocations instead of 700.
      A request's or a join's objects live through its database round trips while hundreds of
      others run: collected every 700 allocations, they outlived two young collections and
      reached the old generation, whose growth by a quarter starts a full collection (of
      every socket's objects), though they die soon after. With thousands of sockets joining,
      these full collections had been a third of the server's CPU.

    Objects made later are collected as before; a project's own higher threshold stays."""
    gc.collect()  # the garbage of loading goes first: frozen, it would never be freed
    gc.freeze()
    young, middle, old = gc.get_threshold()
    if 0 < young < YOUNG_THRESHOLD:  # (0: the collector is off; left so)
        gc.set_threshold(YOUNG_THRESHOLD, middle, old)


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """ASGI lifespan: the garbage collector is set up for serving when the server starts the
    application (:func:`tune_collector`, again: the server's own objects are made by then);
    the services stop when the server shuts it down
    (their stops block: they run on a thread)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            tune_collector()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await asyncio.to_thread(stop)
            await send({"type": "lifespan.shutdown.complete"})
            return
