"""Calling user code that may be a plain or an async function: stream hooks
(``authenticate_stream``, ``on_join``, ``on_leave``, through
:func:`streams.sockets.context.call_hook`) and plain step handlers.

Plain code runs on one of ``STREAMS_SYNC_THREADS`` threads, apart from the engine's database
threads (a slow hook or handler holds up no one else's queries), with synchronous streams and
the ORM at hand; its connection goes back after each call, as Django's does after a request.
"""

import inspect
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from ..conf import engine_settings
from . import lifecycle


def _start() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        engine_settings.STREAMS_SYNC_THREADS, thread_name_prefix="streams-sync"
    )


def _stop(threads: ThreadPoolExecutor) -> None:
    threads.shutdown(wait=True)  # the calls under way finish


# Started on the first plain call; stopped by streams.runtime.lifecycle.
service = lifecycle.register("sync-threads", lifecycle.Stage.CALL, _start, _stop)


def is_async(fn: Callable[..., Any]) -> bool:
    # Also callable objects whose __call__ is async.
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__)


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    finally:
        close_old_connections()


async def run_plain(fn: Callable[..., Any], *args: Any) -> Any:
    """Await ``fn(*args)``, a plain function, run on a thread for plain code (the caller's
    context variables, such as the trace id, go with it)."""
    threads = service.ensure()
    return await sync_to_async(_call, thread_sensitive=False, executor=threads)(fn, *args)
