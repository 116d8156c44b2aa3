"""Enqueueing: one Celery message per step subscribed to a topic.

Each subscribing step gets its own copy; the workers of a step compete for its copies.
Messages leave when the enqueuing transaction commits (at once outside one).
"""

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from ..definitions import QueueTrigger, Step, registry
from ..records import record_enqueue
from .sending import send_to_step


class EnqueueError(ValueError):
    """An enqueue that cannot be delivered: unknown or undeclared topic, or bad data."""


def subscribers(topic: str, steps: Iterable[Step]) -> list[tuple[Step, int, QueueTrigger]]:
    """Every (step, trigger index, trigger) with a queue trigger on ``topic``."""
    return [
        (step, index, trigger)
        for step in steps
        for index, trigger in enumerate(step.config.triggers)
        if isinstance(trigger, QueueTrigger) and trigger.topic == topic
    ]


def enqueue(
    message: Mapping[str, Any],
    *,
    trace_id: str,
    sender: Step | None = None,
    steps: Iterable[Step] | None = None,
    origin: str = "",
) -> int:
    """Send ``{"topic", "data"}`` to every step subscribed to the topic; return how many.
    ``origin`` says who sent it when no step did (``manage.py enqueue``, the dashboard)."""
    if not isinstance(message, Mapping):
        raise EnqueueError("enqueue takes {'topic': ..., 'data': ...}")
    topic = message.get("topic")
    if not isinstance(topic, str) or not topic:
        raise EnqueueError("'topic' must be a non-empty string")
    if sender is not None and topic not in sender.config.enqueues:
        raise EnqueueError(
            f"step {sender.name!r} enqueues {topic!r} but does not declare it in 'enqueues'"
        )
    targets = subscribers(topic, steps if steps is not None else registry)
    if not targets:
        raise EnqueueError(f"no step subscribes to topic {topic!r}")
    data = message.get("data")
    try:
        encoded = orjson.dumps(data)
    except TypeError as error:
        raise EnqueueError(f"data for topic {topic!r} is not JSON: {error}") from None
    for step, index, trigger in targets:
        payload = {"kind": "queue", "trigger": index, "topic": topic, "data": data}
        send_to_step(step.name, payload, trace_id, countdown=trigger.retry.delay_seconds)
    names = [step.name for step, _, _ in targets]
    record_enqueue(
        trace_id, topic, names, encoded, sender=sender.name if sender else "", origin=origin
    )
    return len(targets)
