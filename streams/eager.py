"""Starting a coroutine in the caller, and handing it to a task only if it has to wait.

Sending a frame to a healthy socket completes without waiting, so a task per frame (per
subscriber) would be pure overhead; a send that has to wait (a slow reader) must not hold up
the fan-out, so it carries on in a task of its own. Python 3.12's eager tasks do this; this
module does the same on 3.11.
"""

import asyncio
import types
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


def start_eagerly(coro: Coroutine[Any, Any, T]) -> "asyncio.Task[T] | None":
    """Run ``coro`` now; return None if it finished, else a task that carries it on.

    An exception raised before the first wait propagates to the caller."""
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_resume(coro, waiting_on))


@types.coroutine
def _carry_on(coro: Coroutine[Any, Any, T], waiting_on: Any) -> Generator[Any, Any, T]:
    """Pass what ``coro`` waits on to the running task, and the outcome back into ``coro``."""
    while True:
        try:
            try:
                value = yield waiting_on
            except BaseException as error:  # cancellation included: it belongs to ``coro``
                waiting_on = coro.throw(error)
            else:
                waiting_on = coro.send(value)
        except StopIteration as stop:  # ``coro`` returned
            result: T = stop.value
            return result


# After _carry_on: mypy sees the awaitable that types.coroutine makes only once it is defined.
async def _resume(coro: Coroutine[Any, Any, T], waiting_on: Any) -> T:
    return await _carry_on(coro, waiting_on)
