"""The context handed to stream hooks (the streams, a logger and the Django user), and calling a
hook with it."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..runtime import FlowLogger, is_async, run_plain
from ..storage import Streams


@dataclass
class StreamContext:
    """``ctx`` of ``on_join``/``on_leave`` and ``authenticate_stream``."""

    streams: Streams = field(default_factory=Streams)
    logger: FlowLogger = field(default_factory=lambda: FlowLogger("streams"))
    user: Any = None


async def call_hook(fn: Callable[..., Any], subject: Any, ctx: StreamContext, *rest: Any) -> Any:
    """Call ``fn(subject, ctx, *rest)``. An async hook gets async streams; a plain one gets
    synchronous streams and runs on a thread for plain code."""
    if is_async(fn):
        return await fn(subject, ctx, *rest)
    sync_ctx = StreamContext(streams=Streams(sync=True), logger=ctx.logger, user=ctx.user)
    return await run_plain(fn, subject, sync_ctx, *rest)
