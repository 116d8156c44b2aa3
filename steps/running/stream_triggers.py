"""Stream triggers: each committed stream change runs the steps whose trigger matches it.

The receiver runs in the writer's process once the change is committed (the ``stream_event``
signal); it checks each trigger's condition there and queues a run for each match.
"""

import logging
from collections.abc import Iterable
from typing import Any

from streams.publishing import StreamEvent

from ..definitions import Step, StreamTrigger, StreamTriggerInput, registry
from .execution import call_condition
from .sending import send_to_step

logger = logging.getLogger("steps.stream_triggers")


def matches(trigger: StreamTrigger, event: StreamEvent) -> bool:
    return (
        trigger.stream_name == event.stream_name
        and trigger.group_id in (None, event.group_id)
        and trigger.item_id in (None, event.item_id)
    )


def triggered_steps(
    event: StreamEvent, steps: Iterable[Step]
) -> list[tuple[Step, int, StreamTriggerInput]]:
    """The (step, trigger index, input) pairs this event runs; a condition that raises is
    logged and counts as false."""
    runs = []
    input = StreamTriggerInput.from_event(event)
    for step in steps:
        for index, trigger in enumerate(step.config.triggers):
            if not isinstance(trigger, StreamTrigger) or not matches(trigger, event):
                continue
            if trigger.condition is not None:
                try:
                    if not call_condition(trigger.condition, input, None):
                        continue
                except Exception:
                    logger.exception(
                        "stream trigger condition raised", extra={"step": step.name, "fields": {}}
                    )
                    continue
            runs.append((step, index, input))
    return runs


def dispatch_stream_triggers(sender: Any, event: StreamEvent, **_: Any) -> None:
    """Receiver of ``streams.signals.stream_event``."""
    for step, index, input in triggered_steps(event, registry):
        payload = {"kind": "stream", "trigger": index, "event": input.to_payload()}
        send_to_step(step.name, payload, trace_id=event.trace_id or "", batchable=True)
