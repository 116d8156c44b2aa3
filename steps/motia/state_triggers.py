"""State triggers: each change of Motia's state runs the steps whose ``state(condition=...)``
accepts it.

A state trigger is registered with the engine as a queue trigger on :data:`STATE_TOPIC`, so
that its runs go the way queued runs go (Celery, retries, dead letters, run records, kind
``state``). A change is dispatched by the write that made it: each step's condition is asked,
in the writer's process as for stream triggers, and a run is sent to each step that accepts
it when the writer's transaction commits. A condition that raises counts as false (and is
logged). Changes made through the admin are not dispatched.
"""

import logging
from typing import Any

from streams.publishing import current_trace_id

from ..definitions import new_trace_id, registry
from ..running import send_to_step
from .definitions import STATE_TOPIC, MotiaStep
from .running import Run, call_in_sync_thread, call_now, current_run, running
from .services import flow_context
from .types import StateTriggerInput, TriggerInfo

logger = logging.getLogger("steps.motia")


def _trace_id() -> str:
    run = current_run()
    trace_id = getattr(run.engine_ctx, "trace_id", None) if run is not None else None
    return trace_id or current_trace_id.get() or new_trace_id()


def _accepts(condition: Any, input: StateTriggerInput, index: int, trace_id: str) -> bool:
    ctx = flow_context(None, TriggerInfo(type="state", index=index), input)
    ctx.trace_id = trace_id
    try:
        with running(Run(None, ctx), "sync"):
            return bool(call_now(condition, input, ctx))
    except Exception:
        logger.exception("state trigger condition raised", extra={"fields": {}})
        return False


def dispatch(input: StateTriggerInput, trace_id: str) -> int:
    """Send a run to every step whose state trigger accepts ``input``; how many."""
    sent = 0
    for step in registry:
        if not isinstance(step, MotiaStep):
            continue
        for index, condition in step.plan.state_conditions.items():
            if condition is not None and not _accepts(condition, input, index, trace_id):
                continue
            payload = {"kind": "state", "trigger": index, "topic": STATE_TOPIC, "data": dict(input)}
            send_to_step(step.name, payload, trace_id)
            sent += 1
    return sent


def change_input(
    scope: str, key: str, result: dict[str, Any], *, deleted: bool = False
) -> StateTriggerInput:
    if deleted:
        event_type = "state:deleted"
    else:
        event_type = "state:created" if result["created"] else "state:updated"
    return StateTriggerInput(
        event_type=event_type,
        group_id=scope,
        item_id=key,
        old_value=result["old_value"],
        new_value=result["new_value"],
    )


def changed(
    scope: str, key: str, result: dict[str, Any], *, deleted: bool = False
) -> dict[str, Any]:
    """After a state write (in the writer's transaction): dispatch it; the write's result
    (``{"old_value", "new_value"}``). A delete of nothing changes nothing."""
    if not (deleted and result["created"]):
        dispatch(change_input(scope, key, result, deleted=deleted), _trace_id())
    return {"old_value": result["old_value"], "new_value": result["new_value"]}


async def changed_async(
    scope: str, key: str, result: dict[str, Any], *, deleted: bool = False
) -> dict[str, Any]:
    """:func:`changed` for a write committed from async code: the conditions (user code) and
    the hand-over to the sender run on a thread for plain code."""
    answer: dict[str, Any] = await call_in_sync_thread(
        lambda: changed(scope, key, result, deleted=deleted)
    )
    return answer
