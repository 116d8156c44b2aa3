"""Motia's cron expressions: validation and fire times (pure, no I/O).

An expression has either 5 fields (the usual crontab: minute hour day-of-month month
day-of-week) or 6 fields where, as in Motia and node-cron, the seconds come FIRST:
``"*/10 * * * * *"`` fires every 10 seconds and ``"0 */5 * * * *"`` at second 0 of every fifth
minute. croniter, which computes the fire times, puts the seconds last, so 6-field expressions
are reordered before they reach it.

All times are in UTC; a naive datetime is taken to be UTC.
"""

from datetime import UTC, datetime

from croniter import CroniterBadDateError, CroniterError, croniter

_VALIDATION_START = datetime(2000, 1, 1, tzinfo=UTC)


def to_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def to_croniter(expression: str) -> str:
    """Rewrite a Motia expression (seconds first when there are 6 fields) in croniter's order."""
    fields = expression.split()
    if len(fields) == 6:
        fields = [*fields[1:], fields[0]]
    return " ".join(fields)


def validate_expression(expression: str) -> str:
    """Check a 5- or 6-field expression and return it with its whitespace normalised.

    Raises ``ValueError`` with the reason when a field is malformed or out of range, or when the
    expression can never fire (``"0 0 30 2 *"``).
    """
    if not isinstance(expression, str):
        raise ValueError(f"cron expression must be a string, not {type(expression).__name__}")
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise ValueError(
            f"cron expression {expression!r} has {len(fields)} fields; expected 5 "
            "(minute hour day-of-month month day-of-week) or 6 (second first)"
        )
    try:
        croniter(to_croniter(expression), _VALIDATION_START).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"cron expression {expression!r} never fires") from None
    except CroniterError as error:
        raise ValueError(f"invalid cron expression {expression!r}: {error}") from None
    return " ".join(fields)


def next_after(expression: str, after: datetime) -> datetime:
    """The first fire time strictly after ``after`` (an aware UTC datetime), in UTC."""
    return croniter(to_croniter(expression), after).get_next(datetime).astimezone(UTC)


def next_fire_times(expression: str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times of ``expression`` strictly after ``after``, in UTC."""
    validate_expression(expression)
    times: list[datetime] = []
    moment = to_utc(after)
    for _ in range(count):
        moment = next_after(expression, moment)
        times.append(moment)
    return times
