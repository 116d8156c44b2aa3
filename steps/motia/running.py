"""How Motia code runs here: synchronously in plain functions, awaitably in async ones.

Motia's Python SDK changed its mind: up to 1.0.3 ``Stream``, ``stateManager`` and
``enqueue`` were coroutines (``await stream.set(...)``), in 1.0.4 plain calls. Files of both
kinds run here unchanged, so each operation takes the form its caller can use, decided by the
*mode* of the code calling it:

- **sync**: a plain handler, condition or hook (run on a thread of its own): the operation
  runs now and returns its result. On an event loop's thread (a plain function that the loop
  itself calls) it runs on a database thread while the caller waits.
- **async**: an ``async def`` handler, condition or hook: the operation *starts at once* and
  returns an awaitable of its result. A write that the handler forgets to await is not lost:
  the run waits for it before it ends (and logs a warning), and fails if it failed.

The layer sets the mode, and the current :class:`Run` (the engine's ``ctx`` and Motia's, for
the module-level ``logger``, ``enqueue`` and ``stateManager``), around every call of user code
(:mod:`steps.motia.adapter`); code called outside any run (at import, in a shell) is sync
unless an event loop runs in its thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from streams.runtime import db, is_async, run_plain

logger = logging.getLogger("steps.motia")

T = TypeVar("T")
Mode = Literal["sync", "async"]

_mode: contextvars.ContextVar[Mode | None] = contextvars.ContextVar("motia_mode", default=None)
_run: contextvars.ContextVar[Run | None] = contextvars.ContextVar("motia_run", default=None)


@dataclass(eq=False)
class Run:
    """The run that Motia code is part of: the engine's ``ctx`` (trace id, step, logs), the
    Motia ``ctx`` its handler, conditions and middleware share, and the operations started in
    async mode."""

    engine_ctx: Any
    motia_ctx: Any = None
    started: list[Started[Any]] = field(default_factory=list)

    async def complete(self, awaitable: Awaitable[T]) -> T:
        """Await the run's handler (``awaitable``) in async mode, then the operations it
        started and never awaited; an error of the handler wins over theirs."""
        with running(self, "async"):
            try:
                result = await awaitable
            except BaseException:
                await self._settle(raising=False)
                raise
            await self._settle(raising=True)
            return result

    async def _settle(self, *, raising: bool) -> None:
        """Wait for the operations started and never awaited, each logged (in an async
        handler, an operation is awaited); raise the first that failed, or log it."""
        pending = [operation for operation in self.started if not operation.awaited]
        self.started.clear()
        trace: dict[str, Any] = {
            "trace_id": getattr(self.engine_ctx, "trace_id", None),
            "fields": {},
        }
        for operation in pending:
            logger.warning(
                "%s was not awaited in an async handler: the run waited for it",
                operation.what,
                extra=trace,
            )
        outcomes = await asyncio.gather(*(op.future for op in pending), return_exceptions=True)
        for operation, outcome in zip(pending, outcomes, strict=True):
            if not isinstance(outcome, BaseException):
                continue
            if raising:
                raise outcome
            logger.error("%s failed", operation.what, exc_info=outcome, extra=trace)


def current_run() -> Run | None:
    return _run.get()


@contextlib.contextmanager
def running(run: Run | None, mode: Mode) -> Iterator[Run | None]:
    """Run the code of the block as part of ``run`` (None: of none), in ``mode``."""
    run_token = _run.set(run)
    mode_token = _mode.set(mode)
    try:
        yield run
    finally:
        _mode.reset(mode_token)
        _run.reset(run_token)


def _loop_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def in_async_mode() -> bool:
    """Whether operations should return awaitables (else they run now)."""
    mode = _mode.get()
    if mode == "sync":
        return False
    # Without a running loop there is nothing to await on, whatever the mode says.
    return _loop_here()


class Started(Awaitable[T]):
    """An operation started in async mode: awaitable once or more for its result.

    Read as a value without ``await`` (``if item:``, ``item["id"]``), it says so: a Motia
    1.0.4 handler written ``async def`` must await what it reads."""

    def __init__(self, future: asyncio.Future[T], what: str) -> None:
        self.future = future
        self.what = what
        self.awaited = False

    def __await__(self) -> Generator[Any, None, T]:
        self.awaited = True
        return self.future.__await__()

    def _misused(self, *_: Any, **__: Any) -> Any:
        raise TypeError(
            f"{self.what} was not awaited: in an async handler, write `await {self.what}` "
            "(or make the handler a plain `def`, where it returns the value)"
        )

    __bool__ = __iter__ = __len__ = __getitem__ = __contains__ = _misused
    get = keys = items = values = _misused

    def __repr__(self) -> str:
        return f"<{self.what}: not awaited>"


def start(coroutine: Coroutine[Any, Any, T], what: str) -> Started[T]:
    """Start ``coroutine`` now, as part of the current run (which waits for it if the handler
    does not)."""
    future = asyncio.ensure_future(coroutine)
    started = Started(future, what)
    run = _run.get()
    if run is not None:
        run.started.append(started)
    else:
        future.add_done_callback(functools.partial(_log_unretrieved, what))
    return started


def _log_unretrieved(what: str, future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("%s failed", what, exc_info=future.exception())


def perform(
    sync: Callable[[], T], asynchronous: Callable[[], Coroutine[Any, Any, T]], what: str
) -> T | Started[T]:
    """Run an operation as the caller can take it: ``asynchronous()`` started (async mode),
    or ``sync()`` now."""
    if in_async_mode():
        return start(asynchronous(), what)
    return blocking(sync)


def blocking(fn: Callable[[], T]) -> T:
    """Call ``fn`` (which queries the database) now: here, or on a database thread while
    this thread waits when an event loop runs here (the loop must not query)."""
    if _loop_here():
        return db.call(fn).result()
    return fn()


# --- calling user code -----------------------------------------------------------------------


def positional_arity(fn: Callable[..., Any]) -> int | None:
    """How many positional arguments ``fn`` takes (None: any number)."""
    try:
        return _arity(fn)
    except TypeError:  # unhashable callable
        return _arity.__wrapped__(fn)


@functools.lru_cache(maxsize=1024)
def _arity(fn: Callable[..., Any]) -> int | None:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    count = 0
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return None
        if parameter.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            count += 1
    return count


def call(fn: Callable[..., T], *args: Any) -> T:
    """Call ``fn`` with as many of ``args`` as it takes: Motia's handlers are written
    ``handler(input, ctx)``, ``handler(input)`` and ``handler()``."""
    arity = positional_arity(fn)
    return fn(*(args if arity is None else args[:arity]))


def _call_sync(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    with running(_run.get(), "sync"):
        return call(fn, *args)


async def call_in_sync_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Await a plain function, run in sync mode on a thread for plain code."""
    return await run_plain(_call_sync, fn, args)


async def call_either(fn: Callable[..., Any], *args: Any) -> Any:
    """Await ``fn``'s result: an async function in async mode here, a plain one in sync mode
    on a thread; an awaitable it returns (``ctx.match`` in a plain handler) is awaited."""
    if is_async(fn):
        with running(_run.get(), "async"):
            result = await call(fn, *args)
    else:
        result = await call_in_sync_thread(fn, *args)
    if inspect.isawaitable(result):
        with running(_run.get(), "async"):
            result = await result
    return result


def call_now(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn`` from plain code and return its result: an async function (or an awaitable
    it returns) is run to completion, in async mode."""
    with running(_run.get(), "sync"):
        result = call(fn, *args)
    return resolve(result)


def resolve(result: Any) -> Any:
    """``result``, or what it gives once awaited (from plain code)."""
    if not inspect.isawaitable(result):
        return result
    return run_to_completion(_awaited(result, _run.get()))


async def _awaited(awaitable: Awaitable[T], run: Run | None) -> T:
    if run is not None:
        return await run.complete(awaitable)
    with running(run, "async"):
        return await awaitable


def run_to_completion(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from plain code: on this thread's own event loop, or, when
    a loop already runs here, on a thread of its own while this one waits."""
    if not _loop_here():
        from ..running import run_coroutine

        result: T = run_coroutine(coroutine)
        return result
    context = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(context.run, asyncio.run, coroutine).result()


def call_matched(handler: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """``ctx.match``: in async mode a coroutine of the handler's result; in sync mode the
    handler runs now (an async one's coroutine is returned, for the caller to await)."""
    if in_async_mode():
        return call_either(handler, *args)
    return call(handler, *args)
