"""What runs for one request of an http trigger: its ``condition``, then its ``middleware``
around the handler.

- ``condition(request, ctx)`` (or ``condition(request)``, whichever it takes) gets the
  :class:`~steps.http.endpoints.ApiRequest` the handler would get; when it returns false the handler
  does not run and the request is answered 422 with :data:`CONDITION_NOT_MET`, as Motia's
  engine answers.
- Each ``middleware(request, ctx, next)`` gets the request, the handler's ``ctx`` and
  ``next``: calling ``next()`` (no arguments) returns an awaitable of what the rest of the
  chain returns (in the end the handler's own result, a dict or a response). The first
  middleware wraps the others; each returns a result, and may return early without calling
  ``next``.

Each of them may be plain or async. An async one runs on the event loop; a plain one runs on
a thread for plain code, as a plain handler does (:func:`streams.runtime.hooks.run_plain`), and what
it returns is awaited if it is awaitable (a plain middleware passes ``next()`` on as its
result).
"""

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from streams.runtime import is_async, run_plain

from ..running import takes_ctx

CONDITION_NOT_MET = {"error": "Request condition not met", "skipped": True}
"""The body of the 422 that answers a request whose condition is false."""

Next = Callable[[], Awaitable[Any]]


async def call(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, plain or async, awaited to its result."""
    result = fn(*args) if is_async(fn) else await run_plain(fn, *args)
    if inspect.isawaitable(result):
        result = await result
    return result


async def condition_allows(condition: Callable[..., Any], request: Any, ctx: Any) -> bool:
    """Whether the trigger's condition lets the request through to the handler."""
    args = (request, ctx) if takes_ctx(condition) else (request,)
    return bool(await call(condition, *args))


def chained(
    middleware: Sequence[Callable[..., Any]], request: Any, ctx: Any, handler: Next
) -> Next:
    """``handler`` wrapped in ``middleware``, the first outermost: awaiting what it returns
    runs the chain."""
    call_next = handler
    for layer in reversed(middleware):
        call_next = _layer(layer, request, ctx, call_next)
    return call_next


def _layer(layer: Callable[..., Any], request: Any, ctx: Any, call_next: Next) -> Next:
    async def run() -> Any:
        return await call(layer, request, ctx, call_next)

    return run
