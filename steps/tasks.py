"""The Celery task that runs a step for a queue, stream or cron message.

A failure is retried with the trigger's backoff through Celery's own retry; after the last
attempt, or at once for an invalid message, the message becomes a :class:`DeadLetter`.
Tasks are acknowledged late and given back if their worker dies, so nothing is lost.
"""

import logging
import traceback
from typing import Any

from celery import Task, shared_task
from django.utils import timezone

from .config import QueueTrigger, Trigger
from .context import new_trace_id
from .execution import execute
from .inputs import InvalidInput
from .models import DeadLetter, StepRun
from .registry import registry
from .retry import RetryPolicy
from .runs import step_run

logger = logging.getLogger("steps.tasks")


def _policy(trigger: Trigger) -> RetryPolicy:
    return trigger.retry if isinstance(trigger, QueueTrigger) else RetryPolicy()


def _dead_letter(
    step_name: str, payload: dict[str, Any], trace_id: str, attempts: int, error: BaseException
) -> DeadLetter:
    return DeadLetter.objects.create(
        step_name=step_name,
        kind=str(payload.get("kind", "")),
        topic=str(payload.get("topic") or ""),
        payload=payload,
        trace_id=trace_id,
        attempts=attempts,
        error=f"{type(error).__name__}: {error}",
        traceback="".join(traceback.format_exception(error)),
    )


@shared_task(bind=True, name="steps.run_step", acks_late=True, reject_on_worker_lost=True)
def run_step(self: Task, step_name: str, payload: dict[str, Any], trace_id: str = "") -> str:
    """Run ``step_name`` for one message; returns the run's final status."""
    trace_id = trace_id or new_trace_id()
    attempt = self.request.retries
    try:
        step = registry.get(step_name)
        trigger = step.config.triggers[payload["trigger"]]
    except (KeyError, IndexError, TypeError) as error:
        _dead_letter(
            step_name,
            payload,
            trace_id,
            attempt + 1,
            LookupError(f"no such step or trigger: {error}"),
        )
        return "dead"
    delivery = self.request.delivery_info or {}
    with step_run(
        step_name,
        str(payload.get("kind", "")),
        trace_id,
        task_id=self.request.id or "",
        worker=self.request.hostname or "",
        attempt=attempt,
        redelivered=bool(delivery.get("redelivered")),
    ) as run:
        policy = _policy(trigger)
        try:
            ran = execute(step, trigger, payload, trace_id, run.logs)
        except InvalidInput as error:
            run.finish(StepRun.Status.FAILED, error)
            _dead_letter(step_name, payload, trace_id, attempt + 1, error)
            logger.warning("invalid message dead-lettered", extra=_log_fields(step_name, trace_id))
            return "dead"
        except Exception as error:
            if attempt < policy.max_retries:
                run.finish(StepRun.Status.RETRYING, error)
                logger.warning(
                    "step failed; retrying",
                    extra=_log_fields(step_name, trace_id, error=str(error)),
                )
                raise self.retry(
                    exc=error, countdown=policy.delay_after(attempt), max_retries=policy.max_retries
                ) from error
            run.finish(StepRun.Status.FAILED, error)
            _dead_letter(step_name, payload, trace_id, attempt + 1, error)
            logger.error("step failed; dead-lettered", extra=_log_fields(step_name, trace_id))
            return "dead"
        run.finish(StepRun.Status.SUCCEEDED if ran else StepRun.Status.SKIPPED)
    return "succeeded" if ran else "skipped"


def _log_fields(step_name: str, trace_id: str, **fields: Any) -> dict[str, Any]:
    return {"step": step_name, "trace_id": trace_id, "fields": fields}


def redrive(letter: DeadLetter) -> None:
    """Send a dead letter's message again, as a new message with a fresh retry budget."""
    from .queue import send_to_step

    send_to_step(letter.step_name, letter.payload, letter.trace_id)
    letter.redriven_at = timezone.now()
    letter.save(update_fields=["redriven_at"])
