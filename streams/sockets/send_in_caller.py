"""Starting an awaitable in the caller, and handing it to a task only if it has to wait.

Sending a frame to a healthy socket completes without waiting, so a task per frame (per
subscriber) would be pure overhead; a send that has to wait (a slow reader) must not hold up
the fan-out, so it carries on in a task of its own. Python 3.12's eager tasks do this; this
module does the same on 3.11.

ASGI leaves what ``send`` returns to the server: uvicorn, daphne and hypercorn return
coroutines, granian a future of its own making. Anything awaitable is driven: a coroutine as
it is, anything else through a coroutine that awaits it.
"""

import asyncio
import types
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


def start_eagerly(awaitable: Awaitable[T]) -> "asyncio.Task[T] | None":
    """Run ``awaitable`` now; return None if it finished, else a task that carries it on.

    An exception raised before the first wait propagates to the caller."""
    coro = awaitable if isinstance(awaitable, Coroutine) else _awaiting(awaitable)
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_resume(coro, waiting_on))


async def _awaiting(awaitable: Awaitable[T]) -> T:
    """A coroutine around an awaitable that is not one (a future, or an object with
    ``__await__``)."""
    return await awaitable


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
