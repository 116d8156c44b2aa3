"""Running a step's handler for a queue, stream or cron message."""

import asyncio
import inspect
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from streams.runtime import is_async

from ..definitions import (
    CronInput,
    CronTrigger,
    FlowContext,
    QueueTrigger,
    Step,
    StreamTrigger,
    StreamTriggerInput,
    Trigger,
    validate_queue_input,
)


def takes_ctx(condition: Callable[..., Any]) -> bool:
    """Whether a condition takes ``ctx`` after its input (two parameters or more)."""
    try:
        return len(inspect.signature(condition).parameters) >= 2
    except (TypeError, ValueError):
        return False


def call_condition(condition: Callable[..., Any], input: Any, ctx: FlowContext | None) -> bool:
    """Call ``condition(input)`` or ``condition(input, ctx)``, whichever it takes."""
    result = condition(input, ctx) if takes_ctx(condition) else condition(input)
    if inspect.isawaitable(result):
        raise TypeError("a condition must be a plain function, not async")
    return bool(result)


def handler_input(trigger: Trigger, payload: Mapping[str, Any]) -> Any:
    """The ``input`` a handler gets for a message (raises InvalidInput for a bad one)."""
    if isinstance(trigger, QueueTrigger):
        return validate_queue_input(trigger, payload.get("data"))
    if isinstance(trigger, StreamTrigger):
        return StreamTriggerInput.from_payload(payload["event"])
    if isinstance(trigger, CronTrigger):
        return CronInput(trigger.expression, datetime.now(UTC).isoformat())
    raise TypeError(f"{type(trigger).__name__} messages do not go through the queue")


class _ThreadLoop:
    """A worker thread's event loop, closed when the thread ends (a stopped worker's threads
    do, and the engine may start another): left to the garbage collector, its sockets could
    go first and the loop fail to close."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        self.loop.close()


_thread = threading.local()


def run_coroutine(coroutine: Any) -> Any:
    """Run an async handler to completion on this worker thread's own event loop (made once,
    not once per message)."""
    held: _ThreadLoop | None = getattr(_thread, "loop", None)
    if held is None or held.loop.is_closed():
        held = _thread.loop = _ThreadLoop()
    return held.loop.run_until_complete(coroutine)


def prepare(
    step: Step, trigger: Trigger, payload: Mapping[str, Any], trace_id: str, log_records: list[Any]
) -> tuple[Any, FlowContext] | None:
    """The handler's input and ``ctx`` for a message (raises InvalidInput for a bad one);
    None when the trigger's condition skips it."""
    input = handler_input(trigger, payload)
    ctx = FlowContext.for_step(
        step,
        trace_id=trace_id,
        trigger=trigger,
        sync=not is_async(step.handler),
        log_records=log_records,
    )
    condition = getattr(trigger, "condition", None)
    # Stream conditions were checked when the change was dispatched; queue and cron ones
    # run here.
    checked_here = condition if isinstance(trigger, QueueTrigger | CronTrigger) else None
    if checked_here is not None and not call_condition(checked_here, input, ctx):
        return None
    return input, ctx
