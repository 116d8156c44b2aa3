"""The Celery tasks that run a step for queue, stream and cron messages.

``run_step`` runs one message; ``run_step_batch`` runs several messages of one step sent
together. A failure is retried with the trigger's backoff through Celery's own retry; after
the last attempt, or at once for an invalid message, the message becomes a
:class:`DeadLetter`. Tasks are acknowledged late and given back if their worker dies, so
nothing is lost (a batch given back runs again whole: stream-triggered steps run at least
once).

Nothing escapes a task but Celery's retry: a database that refuses connections fails the
handler (retried, then dead-lettered); a dead letter the database cannot take waits in the
broker as a :func:`store_dead_letter` message, retried until the database is back; step runs
are kept by the process until they can be written (:mod:`steps.records.runs`); and a task returns
only once the runs it caused have left for the broker.
"""

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from streams.publishing import wait_published
from streams.runtime import is_async

from .definitions import (
    InvalidInput,
    QueueTrigger,
    RetryPolicy,
    Step,
    Trigger,
    new_trace_id,
    registry,
)
from .models import DeadLetter, StepRun
from .records import Run, step_run, storable_json, storable_text
from .running import RUN_STEP, RUN_STEP_BATCH, STORE_DEAD_LETTER, prepare, run_coroutine, sender

logger = logging.getLogger("steps.tasks")

T = TypeVar("T")


def _policy(trigger: Trigger) -> RetryPolicy:
    return trigger.retry if isinstance(trigger, QueueTrigger) else RetryPolicy()


def dead_letter_fields(
    step_name: str, payload: dict[str, Any], trace_id: str, attempts: int, error: BaseException
) -> dict[str, Any]:
    """A :class:`DeadLetter`'s fields, as plain JSON (a Celery message can carry them)."""
    return {
        "step_name": step_name,
        "kind": str(payload.get("kind", "")),
        "topic": storable_text(str(payload.get("topic") or "")),
        "payload": storable_json(payload),
        "trace_id": trace_id,
        "attempts": attempts,
        "error": storable_text(f"{type(error).__name__}: {error}"),
        "traceback": storable_text("".join(traceback.format_exception(error))),
    }


# Errors of a database that is away (not of what was written): worth trying again later.
UNAVAILABLE = (OperationalError, InterfaceError)
# Seconds before a dead letter the database refused is tried again (doubling up to a minute).
DEAD_LETTER_RETRY = 1
# Seconds a task waits for the runs it caused to leave for the broker.
SEND_WAIT = 30.0


@shared_task(
    bind=True,
    name=STORE_DEAD_LETTER,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=UNAVAILABLE,
    retry_backoff=DEAD_LETTER_RETRY,
    retry_backoff_max=60,
    retry_jitter=False,
    max_retries=None,  # a dead letter is kept until the database takes it
)
def store_dead_letter(self: Task[Any, Any], fields: dict[str, Any]) -> None:
    """Write a dead letter that the database could not take when its message gave up."""
    DeadLetter.objects.create(**fields)


def keep_dead_letter(fields: dict[str, Any]) -> None:
    """Write a dead letter now or, when the database refuses, through the broker later."""
    try:
        DeadLetter.objects.create(**fields)
    except UNAVAILABLE as error:
        logger.warning(
            "database unavailable; the dead letter waits in the queue",
            extra=_log_fields(fields["step_name"], fields["trace_id"], error=str(error)),
        )
        # celery-types lists no argsrepr or kwargsrepr: Celery takes them as **options.
        store_dead_letter.apply_async(  # type: ignore[call-arg]
            args=(fields,),
            countdown=DEAD_LETTER_RETRY,
            argsrepr=fields["step_name"],
            kwargsrepr="",
        )


@dataclass(frozen=True)
class Delivery:
    """How a message reached this worker (what its run records)."""

    task_id: str = ""
    worker: str = ""
    attempt: int = 0
    redelivered: bool = False

    @classmethod
    def of(cls, task: Task[Any, Any]) -> "Delivery":
        request = task.request
        return cls(
            task_id=request.id or "",
            worker=request.hostname or "",
            attempt=request.retries,
            redelivered=bool((request.delivery_info or {}).get("redelivered")),
        )


def run_detail(payload: dict[str, Any]) -> dict[str, Any]:
    """What started a run of this message, as its record keeps it for the trace view: the
    topic, the stream change, or the cron expression (and who fired it, if by hand)."""
    kind = payload.get("kind")
    detail: dict[str, Any] = {}
    if kind == "queue":
        detail["topic"] = payload.get("topic")
    elif kind == "stream":
        event = payload.get("event") or {}
        change = event.get("event") or {}
        detail.update(
            stream=event.get("stream_name"),
            group=event.get("group_id"),
            item=event.get("id"),
            type=change.get("type") if isinstance(change, dict) else None,
        )
    elif kind == "cron":
        detail["expression"] = payload.get("expression")
    if payload.get("origin"):
        detail["origin"] = payload["origin"]
    return detail


class RetryLater(Exception):
    """A run failed and has retries left: run it again after ``countdown`` seconds."""

    def __init__(self, error: Exception, countdown: float, max_retries: int) -> None:
        super().__init__(str(error))
        self.error, self.countdown, self.max_retries = error, countdown, max_retries


HandlerCall = Callable[[Callable[..., Any], tuple[Any, ...]], Awaitable[None]]
"""How :meth:`Message._run` calls a step's handler with its arguments."""


class Message:
    """One message to run: what ``run_step`` and ``run_step_batch`` share.

    Running it records the run; a message that cannot run (no such step, invalid input, no
    retries left) leaves its dead letter in ``dead_letter``, for the caller to store."""

    def __init__(
        self, step_name: str, payload: dict[str, Any], trace_id: str, delivery: Delivery
    ) -> None:
        self.step_name, self.payload, self.trace_id = step_name, payload, trace_id
        self.delivery = delivery
        self.dead_letter: dict[str, Any] | None = None

    def target(self) -> tuple[Step, Trigger] | None:
        try:
            step = registry.get(self.step_name)
            return step, step.config.triggers[self.payload["trigger"]]
        except (KeyError, IndexError, TypeError) as error:
            self._give_up(LookupError(f"no such step or trigger: {error}"))
            return None

    def run(self) -> str:
        """Run the handler here (an async one on this thread's event loop); returns the
        status, or raises :class:`RetryLater`."""
        return _without_loop(self._run(_call_here))

    async def arun(self) -> str:
        """Run an async handler on the running loop, concurrently with other messages."""
        return await self._run(_await_on_loop)

    async def _run(self, call: HandlerCall) -> str:
        """What :meth:`run` and :meth:`arun` share: all but how the handler is called."""
        target = self.target()
        if target is None:
            return "dead"
        step, trigger = target
        with self._recorded() as run:
            try:
                prepared = prepare(step, trigger, self.payload, self.trace_id, run.logs)
                if prepared is not None:
                    await call(step.handler, prepared)
            except Exception as error:
                return self._failed(run, trigger, error)
            return self._succeeded(run, prepared is not None)

    def _recorded(self) -> Any:
        delivery = self.delivery
        return step_run(
            self.step_name,
            str(self.payload.get("kind", "")),
            self.trace_id,
            task_id=delivery.task_id,
            worker=delivery.worker,
            attempt=delivery.attempt,
            redelivered=delivery.redelivered,
            detail=run_detail(self.payload),
        )

    def _succeeded(self, run: Run, ran: bool) -> str:
        run.finish(StepRun.Status.SUCCEEDED if ran else StepRun.Status.SKIPPED)
        return "succeeded" if ran else "skipped"

    def _failed(self, run: Run, trigger: Trigger, error: Exception) -> str:
        # The message names the step, and the traceback (the error) follows, whatever the
        # format that shows them (Celery's worker shows neither the step nor the fields).
        fields = _log_fields(self.step_name, self.trace_id, error=str(error))
        if isinstance(error, InvalidInput):
            run.finish(StepRun.Status.FAILED, error)
            logger.warning("step %s: invalid message dead-lettered", self.step_name, extra=fields)
            return self._give_up(error)
        policy, attempt = _policy(trigger), self.delivery.attempt
        if attempt < policy.max_retries:
            run.finish(StepRun.Status.RETRYING, error)
            delay = policy.delay_after(attempt)
            logger.warning(
                "step %s failed (attempt %d of %d), retrying in %.1f s",
                *(self.step_name, attempt + 1, policy.max_retries + 1, delay),
                extra=fields,
                exc_info=error,
            )
            raise RetryLater(error, delay, policy.max_retries) from error
        run.finish(StepRun.Status.FAILED, error)
        logger.error(
            "step %s failed (attempt %d of %d), dead-lettered",
            *(self.step_name, attempt + 1, policy.max_retries + 1),
            extra=fields,
            exc_info=error,
        )
        return self._give_up(error)

    def _give_up(self, error: BaseException) -> str:
        attempts = self.delivery.attempt + 1
        self.dead_letter = dead_letter_fields(
            self.step_name, self.payload, self.trace_id, attempts, error
        )
        return "dead"

    def store_dead_letter(self) -> None:
        if self.dead_letter is not None:
            keep_dead_letter(self.dead_letter)


async def _call_here(handler: Callable[..., Any], arguments: tuple[Any, ...]) -> None:
    """Call ``handler`` on this thread without ever suspending: a plain one as it is, an async
    one to completion on this thread's own event loop."""
    if is_async(handler):
        run_coroutine(handler(*arguments))
    else:
        handler(*arguments)


async def _await_on_loop(handler: Callable[..., Any], arguments: tuple[Any, ...]) -> None:
    await handler(*arguments)


def _without_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never suspends, run here with no event loop (so that a
    plain handler runs as plain code: Django's ORM refuses to run under a running loop)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coroutine.close()
    raise RuntimeError("a coroutine meant to run without a loop suspended")


@shared_task(bind=True, name=RUN_STEP, acks_late=True, reject_on_worker_lost=True)
def run_step(
    self: Task[Any, Any], step_name: str, payload: dict[str, Any], trace_id: str = ""
) -> str:
    """Run ``step_name`` for one message; returns the run's final status. Retries go through
    Celery's retry, as a new message with the same id."""
    message = Message(step_name, payload, trace_id or new_trace_id(), Delivery.of(self))
    try:
        status = message.run()
    except RetryLater as retry:
        _wait_for_sends()
        raise self.retry(
            exc=retry.error, countdown=retry.countdown, max_retries=retry.max_retries
        ) from retry.error
    message.store_dead_letter()
    _wait_for_sends()
    return status


@shared_task(bind=True, name=RUN_STEP_BATCH, acks_late=True, reject_on_worker_lost=True)
def run_step_batch(self: Task[Any, Any], step_name: str, messages: list[list[Any]]) -> list[str]:
    """Run ``step_name`` for several ``[payload, trace_id]`` messages sent as one (stream
    triggers under load, see :mod:`steps.running.sending`). An async handler runs them concurrently,
    so that their stream changes commit together. A message that fails carries on as a
    ``run_step`` message of its own, on its second attempt, through Celery's retries."""
    delivery = Delivery.of(self)
    batch = [Message(step_name, payload, trace_id, delivery) for payload, trace_id in messages]
    if step_name in registry and is_async(registry.get(step_name).handler):
        outcomes = run_coroutine(_run_together(batch))
    else:
        outcomes = [_outcome(message.run) for message in batch]
    statuses = []
    for message, outcome in zip(batch, outcomes, strict=True):
        if isinstance(outcome, RetryLater):
            # celery-types lists no retries, argsrepr or kwargsrepr: Celery takes **options.
            run_step.apply_async(  # type: ignore[call-arg]
                args=(step_name, message.payload),
                kwargs={"trace_id": message.trace_id},
                countdown=outcome.countdown,
                retries=delivery.attempt + 1,
                argsrepr=step_name,
                kwargsrepr="",
            )
            outcome = "retrying"
        elif isinstance(outcome, BaseException):
            raise outcome
        message.store_dead_letter()
        statuses.append(outcome)
    _wait_for_sends()
    return statuses


def _wait_for_sends() -> None:
    """Before the message is acknowledged: what it caused (its changes' events, messages its
    handler enqueued, stream triggers) must have left, or a worker killed now would lose it."""
    if not wait_published(SEND_WAIT):
        logger.warning("stream events still unpublished after %.0f s", SEND_WAIT)
    if not sender.wait_sent(SEND_WAIT):
        logger.warning("step runs still unsent after %.0f s", SEND_WAIT)


async def _run_together(batch: list[Message]) -> list[Any]:
    return await asyncio.gather(*(message.arun() for message in batch), return_exceptions=True)


def _outcome(run: Any) -> Any:
    try:
        return run()
    except RetryLater as retry:
        return retry


def _log_fields(step_name: str, trace_id: str, **fields: Any) -> dict[str, Any]:
    return {"step": step_name, "trace_id": trace_id, "fields": fields}
