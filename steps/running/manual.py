"""Running a step now, by hand: a message enqueued to a topic, or a cron step fired.

``manage.py enqueue`` and ``run_cron`` and the dashboard's forms share this module. Input is
checked before anything leaves: JSON that does not parse, a topic no step takes, data that
fails a subscriber's ``input`` schema, a step without a cron trigger are each a
:class:`ManualRunError` naming the problem, and nothing is sent. What is sent goes the way a
step's own ``ctx.enqueue`` or beat's message goes, under a trace id of its own (or the one
given), and is recorded for that trace with who sent it (:mod:`steps.records.traces`).
"""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from ..definitions import (
    CronTrigger,
    InvalidInput,
    QueueTrigger,
    Step,
    new_trace_id,
    validate_queue_input,
)
from ..records import record_cron_fire, write_now
from .queue import enqueue, subscribers
from .sending import send_to_step

# What a trace id may be (as an http request's X-Trace-Id header).
TRACE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class ManualRunError(ValueError):
    """Input that cannot be sent: the message says why."""


@dataclass(frozen=True)
class Sent:
    """What was sent by hand: the trace it runs under and the steps it runs."""

    trace_id: str
    steps: tuple[str, ...]
    what: str  # "topic step.process" or "cron */15 * * * * *"


def parse_json(text: str) -> Any:
    """The JSON value of ``text``; a :class:`ManualRunError` naming where it fails."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ManualRunError(f"invalid JSON: {error}") from None


def trace_id_or_new(trace_id: str | None) -> str:
    if not trace_id:
        return new_trace_id()
    if not TRACE_ID.match(trace_id):
        raise ManualRunError(
            f"invalid trace id {trace_id!r}: 1 to 128 letters, digits, '.', '_', ':' or '-'"
        )
    return trace_id


def queue_targets(topic: str, steps: Iterable[Step]) -> list[tuple[Step, int, QueueTrigger]]:
    """The queue triggers on ``topic``; a :class:`ManualRunError` when no step takes it."""
    steps = list(steps)
    targets = subscribers(topic, steps)
    if not targets:
        topics = sorted({t.topic for s in steps for t in s.config.triggers_of(QueueTrigger)})
        known = ", ".join(topics) if topics else "none"
        raise ManualRunError(f"no step subscribes to topic {topic!r} (topics: {known})")
    return targets


def check_message(topic: str, data: Any, steps: Iterable[Step]) -> list[str]:
    """The steps a message of ``topic`` would run; a :class:`ManualRunError` when none takes
    the topic or ``data`` fails one's ``input`` schema (naming the step and the fields)."""
    targets = queue_targets(topic, steps)
    try:
        orjson.dumps(data)
    except TypeError as error:
        raise ManualRunError(f"data is not JSON: {error}") from None
    for step, _, trigger in targets:
        try:
            validate_queue_input(trigger, data)
        except InvalidInput as error:
            raise ManualRunError(f"{error} (the input of step {step.name!r})") from None
    return [step.name for step, _, _ in targets]


def enqueue_now(
    topic: str, data: Any, steps: Iterable[Step], *, origin: str, trace_id: str | None = None
) -> Sent:
    """Check, then enqueue ``data`` to every step subscribed to ``topic``, as a step would."""
    steps = list(steps)
    names = check_message(topic, data, steps)
    trace = trace_id_or_new(trace_id)
    enqueue({"topic": topic, "data": data}, trace_id=trace, steps=steps, origin=origin)
    write_now()
    return Sent(trace, tuple(names), f"topic {topic}")


def cron_trigger(step_name: str, steps: Iterable[Step]) -> tuple[Step, int, CronTrigger]:
    """The step's first cron trigger; a :class:`ManualRunError` naming the cron steps when it
    has none (or there is no such step)."""
    steps = list(steps)
    crons = [
        (step, index, trigger)
        for step in steps
        for index, trigger in enumerate(step.config.triggers)
        if isinstance(trigger, CronTrigger)
    ]
    for step, index, trigger in crons:
        if step.name == step_name:
            return step, index, trigger
    known = ", ".join(sorted({step.name for step, _, _ in crons})) or "none"
    if not any(step.name == step_name for step in steps):
        raise ManualRunError(f"no step named {step_name!r} (cron steps: {known})")
    raise ManualRunError(f"step {step_name!r} has no cron trigger (cron steps: {known})")


def fire_cron_now(
    step_name: str, steps: Iterable[Step], *, origin: str, trace_id: str | None = None
) -> Sent:
    """Run a cron step now, as beat would at a fire time."""
    step, index, trigger = cron_trigger(step_name, steps)
    trace = trace_id_or_new(trace_id)
    payload = {"kind": "cron", "trigger": index, "expression": trigger.expression}
    send_to_step(step.name, {**payload, "origin": origin}, trace)
    record_cron_fire(trace, step.name, trigger.expression, origin=origin)
    write_now()
    return Sent(trace, (step.name,), f"cron {trigger.expression}")
