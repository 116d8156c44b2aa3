"""Motia's ``enqueue({"topic": ..., "data": ...})`` (and ``ctx.enqueue``).

It behaves as in Motia, which differs from the engine's own ``ctx.enqueue``: the topic need
not be listed in the step's ``enqueues``, and a topic no step subscribes to is not an error.
Motia's engine keeps such a message waiting in the topic's queue, where nothing ever takes it;
here it is dropped, with a warning in the log. Every subscribed step gets its own copy, sent
when the caller's transaction commits; the message carries the current run's trace id (a new
one outside a run).
"""

import logging
from collections.abc import Mapping
from typing import Any

from channels.db import database_sync_to_async

from streams.publishing import current_trace_id

from ..definitions import new_trace_id, registry
from ..running import EnqueueError, subscribers
from ..running import enqueue as send
from .running import Started, blocking, current_run, in_async_mode, start

logger = logging.getLogger("steps.motia")


def _trace_id() -> str:
    run = current_run()
    trace_id = getattr(run.engine_ctx, "trace_id", None) if run is not None else None
    return trace_id or current_trace_id.get() or new_trace_id()


def enqueue_now(event: Mapping[str, Any], trace_id: str) -> None:
    """Send ``event`` to the steps subscribed to its topic (none: a warning)."""
    if not isinstance(event, Mapping):
        raise EnqueueError("enqueue takes {'topic': ..., 'data': ...}")
    topic = event.get("topic")
    if not isinstance(topic, str) or not topic:
        raise EnqueueError("Topic is not set")
    if not subscribers(topic, registry):
        logger.warning(
            "no step subscribes to topic %r: the message is dropped",
            topic,
            extra={"trace_id": trace_id, "fields": {"topic": topic}},
        )
        return
    send(event, trace_id=trace_id)


def enqueue(event: Mapping[str, Any]) -> Started[None] | None:
    """Enqueue ``{"topic", "data"}``: a plain call in a plain handler, awaitable in an async
    one."""
    trace_id = _trace_id()
    if in_async_mode():
        # The engine's sending hands the message over on commit: not from the event loop.
        return start(database_sync_to_async(enqueue_now)(event, trace_id), "enqueue(...)")
    blocking(lambda: enqueue_now(event, trace_id))
    return None
