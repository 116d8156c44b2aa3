"""Motia's type guards: which kind a trigger is, whether a step has one, and a step's
triggers of one kind (pure)."""

from typing import Any

from .types import ApiTrigger, CronTrigger, QueueTrigger, StateTrigger, StreamTrigger

_KINDS: dict[str, type[Any]] = {
    "http": ApiTrigger,
    "queue": QueueTrigger,
    "cron": CronTrigger,
    "state": StateTrigger,
    "stream": StreamTrigger,
}


def _is(trigger: Any, kind: str) -> bool:
    if isinstance(trigger, dict):
        return trigger.get("type") == kind
    return isinstance(trigger, _KINDS[kind])


def _triggers(step: Any, kind: str) -> list[Any]:
    return [trigger for trigger in step.config.triggers if _is(trigger, kind)]


def is_api_trigger(trigger: Any) -> bool:
    return _is(trigger, "http")


def is_queue_trigger(trigger: Any) -> bool:
    return _is(trigger, "queue")


def is_cron_trigger(trigger: Any) -> bool:
    return _is(trigger, "cron")


def is_state_trigger(trigger: Any) -> bool:
    return _is(trigger, "state")


def is_stream_trigger(trigger: Any) -> bool:
    return _is(trigger, "stream")


def is_api_step(step: Any) -> bool:
    return bool(_triggers(step, "http"))


def is_queue_step(step: Any) -> bool:
    return bool(_triggers(step, "queue"))


def is_cron_step(step: Any) -> bool:
    return bool(_triggers(step, "cron"))


def is_state_step(step: Any) -> bool:
    return bool(_triggers(step, "state"))


def is_stream_step(step: Any) -> bool:
    return bool(_triggers(step, "stream"))


def get_api_triggers(step: Any) -> list[Any]:
    return _triggers(step, "http")


def get_queue_triggers(step: Any) -> list[Any]:
    return _triggers(step, "queue")


def get_cron_triggers(step: Any) -> list[Any]:
    return _triggers(step, "cron")


def get_state_triggers(step: Any) -> list[Any]:
    return _triggers(step, "state")


def get_stream_triggers(step: Any) -> list[Any]:
    return _triggers(step, "stream")
