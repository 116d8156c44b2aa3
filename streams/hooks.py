"""Calling user hooks (``authenticate_stream``, ``on_join``, ``on_leave``) that may be plain or
async functions; each takes ``(subject, ctx, ...)``."""

import inspect
from collections.abc import Callable
from typing import Any

from . import db
from .context import StreamContext
from .store import Streams


def is_async(fn: Callable[..., Any]) -> bool:
    # Also callable objects whose __call__ is async.
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__)


async def call_hook(fn: Callable[..., Any], subject: Any, ctx: StreamContext, *rest: Any) -> Any:
    """Call ``fn(subject, ctx, *rest)``. An async hook gets async streams; a plain one runs on
    a database thread with synchronous streams, so it may use the ORM directly."""
    if is_async(fn):
        return await fn(subject, ctx, *rest)
    sync_ctx = StreamContext(streams=Streams(sync=True), logger=ctx.logger, user=ctx.user)
    return await db.run(fn, subject, sync_ctx, *rest)
