"""The schedule behind cron triggers: Motia's cron expressions as a Celery beat schedule.

The expressions themselves (5 fields, or 6 or 7 with the seconds first) are read by
:mod:`steps.definitions.crontab`. Nothing here does I/O: ``beat_schedule(steps)`` only builds the
dict that Celery beat's ``beat_schedule`` setting takes.
"""

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from celery import Celery
from celery.schedules import BaseSchedule, schedstate

from ..definitions import (
    EARLIEST,
    CronTrigger,
    Step,
    next_after,
    next_fire_times,
    to_utc,
    validate_expression,
)
from .task_names import RUN_STEP

# Shortest wait that ``is_due`` reports, so beat always sleeps a little before it re-checks.
MIN_RECHECK_SECONDS = 0.01
# How long beat may wait before it checks again a schedule that never fires again.
NEVER_AGAIN_RECHECK_SECONDS = 3600.0
# A queued run older than its interval (capped at this) is dropped: the next run supersedes it.
MAX_EXPIRES_SECONDS = 3600.0
_EXPIRES_SAMPLES = 8


class CronSchedule(BaseSchedule):
    """A Celery beat schedule that fires on a Motia cron expression (5, 6 or 7 fields, UTC).

    A run is due when the first fire time after the last run has passed; beat then records the
    run, so after downtime the missed fire times collapse into a single catch-up run.
    """

    # Set by Celery's BaseSchedule (celery-types calls it nowfunc).
    nowfun: Callable[[], datetime] | None

    def __init__(
        self,
        expression: str,
        nowfun: Callable[[], datetime] | None = None,
        app: Celery | None = None,
    ) -> None:
        # Refused if it can never fire; one whose years have passed (checked with the step's
        # config) may still be unpickled by beat: it is just never due.
        self.expression = validate_expression(expression, EARLIEST)
        super().__init__(nowfun=nowfun, app=app)

    def _now_utc(self) -> datetime:
        return to_utc(self.now())

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after ``moment`` (naive means UTC); None when there
        is none (the expression's years have passed)."""
        return next_after(self.expression, to_utc(moment))

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        """Time left until the first fire time after ``last_run_at``; zero once it has passed."""
        following = self.next_after(last_run_at)
        if following is None:
            return timedelta(seconds=NEVER_AGAIN_RECHECK_SECONDS)
        return max(following - self._now_utc(), timedelta(0))

    def is_due(self, last_run_at: datetime) -> schedstate:
        """``(due, seconds until beat should check again)``, as Celery beat expects."""
        now = self._now_utc()
        due_at, following = self.next_after(last_run_at), self.next_after(now)
        due = due_at is not None and due_at <= now
        if following is None:
            return schedstate(due, NEVER_AGAIN_RECHECK_SECONDS)
        return schedstate(due, max((following - now).total_seconds(), MIN_RECHECK_SECONDS))

    def __repr__(self) -> str:
        return f"<CronSchedule: {self.expression}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CronSchedule):
            return (self.expression, self.nowfun) == (other.expression, other.nowfun)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.expression)

    def __reduce__(self) -> tuple[type["CronSchedule"], tuple[Any, ...]]:
        # As Celery's own schedules do: the app is not pickled, ``nowfun`` is.
        return (self.__class__, (self.expression, self.nowfun))


def expires_seconds(expression: str, now: datetime | None = None) -> float:
    """How long a queued run stays valid: the shortest gap between upcoming fire times,
    capped at ``MAX_EXPIRES_SECONDS`` (a run that late is superseded by the next one)."""
    times = next_fire_times(expression, now or datetime.now(UTC), _EXPIRES_SAMPLES)
    gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
    return min([*gaps, MAX_EXPIRES_SECONDS])


def beat_schedule(steps: Iterable[Step]) -> dict[str, dict[str, Any]]:
    """Celery's ``beat_schedule`` for the cron triggers of ``steps``: one entry per trigger,
    named ``"<step>:cron:<index>"`` (the trigger's index in the step's ``triggers``), each
    running the ``steps.run_step`` task with ``(step_name, payload)``."""
    entries: dict[str, dict[str, Any]] = {}
    for step in steps:
        for index, trigger in enumerate(step.config.triggers):
            if isinstance(trigger, CronTrigger):
                entries[f"{step.name}:cron:{index}"] = _beat_entry(step.name, index, trigger)
    return entries


def _beat_entry(step_name: str, index: int, trigger: CronTrigger) -> dict[str, Any]:
    expression = trigger.expression
    return {
        "task": RUN_STEP,
        "schedule": CronSchedule(expression),
        "args": (step_name, {"kind": "cron", "trigger": index, "expression": expression}),
        "options": {"expires": expires_seconds(expression)},
    }
