"""Stream triggers: each committed stream change runs the steps whose trigger matches it.

The receiver runs in the writer's process once the change is committed (the ``stream_event``
signal); it checks each trigger's condition there and queues a run for each match.
"""

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from streams.publishing import StreamEvent

from ..definitions import Step, StreamTrigger, StreamTriggerInput, registry
from .execution import call_condition
from .sending import send_to_step

logger = logging.getLogger("steps.stream_triggers")

# The stream triggers by stream name: (step, the trigger's index in its config, trigger), in
# the order of the steps and of their triggers.
StreamTriggers = Mapping[str, tuple[tuple[Step, int, StreamTrigger], ...]]


def stream_triggers_by_stream(steps: Iterable[Step]) -> StreamTriggers:
    """Index the steps' stream triggers by stream: an event of a stream no step watches then
    costs one dict lookup (the registry keeps it until its steps change)."""
    index: dict[str, list[tuple[Step, int, StreamTrigger]]] = {}
    for step in steps:
        for position, trigger in enumerate(step.config.triggers):
            if isinstance(trigger, StreamTrigger):
                index.setdefault(trigger.stream_name, []).append((step, position, trigger))
    return {name: tuple(triggers) for name, triggers in index.items()}


def matches(trigger: StreamTrigger, event: StreamEvent) -> bool:
    return (
        trigger.stream_name == event.stream_name
        and trigger.group_id in (None, event.group_id)
        and trigger.item_id in (None, event.item_id)
    )


def triggered_steps(
    event: StreamEvent, triggers: StreamTriggers
) -> list[tuple[Step, int, StreamTriggerInput]]:
    """The (step, trigger index, input) pairs this event runs; a condition that raises is
    logged and counts as false. Every condition and run of the event shares one input, made
    only once a trigger matches."""
    runs = []
    input: StreamTriggerInput | None = None
    for step, index, trigger in triggers.get(event.stream_name, ()):
        if not matches(trigger, event):
            continue
        if input is None:
            input = StreamTriggerInput.from_event(event)
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
    for step, index, input in triggered_steps(event, registry.derived(stream_triggers_by_stream)):
        payload = {"kind": "stream", "trigger": index, "event": input.to_payload()}
        send_to_step(step.name, payload, trace_id=event.trace_id or "", batchable=True)
