"""Motia's cron expressions: validation and fire times (pure, no I/O).

An expression has 5, 6 or 7 fields:

- 5, the usual crontab: minute hour day-of-month month day-of-week;
- 6, the seconds FIRST, as in Motia and node-cron: ``"*/10 * * * * *"`` fires every 10 seconds
  and ``"0 */5 * * * *"`` at second 0 of every fifth minute;
- 7, the seconds first and a year last, as Motia 1.0's engine (iii, on Rust's ``cron`` crate)
  writes them: ``"0 0 5 * * * *"`` fires daily at 05:00, ``"0 0 0 1 1 * 2030"`` once.

croniter, which computes the fire times, wants the seconds after the day-of-week (and before
the year), so 6- and 7-field expressions are reordered before they reach it. Days of the week
are numbered as in crontab and Motia's documentation: 0 (or 7) is Sunday.

All times are in UTC; a naive datetime is taken to be UTC.
"""

from datetime import UTC, datetime

from croniter import CroniterBadDateError, CroniterError, croniter

FIELD_COUNTS = (5, 6, 7)
# Before the first year croniter knows: an expression that fires after it fires at some time.
EARLIEST = datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)
# How many years croniter may look ahead for the next fire time: a year field reaches 2099.
_YEARS_AHEAD = 130


def to_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def to_croniter(expression: str) -> str:
    """Rewrite a Motia expression (seconds first when there are 6 or 7 fields) in croniter's
    order: minute hour day-of-month month day-of-week second year."""
    fields = expression.split()
    if len(fields) in (6, 7):
        fields = [*fields[1:6], fields[0], *fields[6:]]
    return " ".join(fields)


def _fire_times(expression: str, after: datetime) -> croniter:
    return croniter(to_croniter(expression), after, max_years_between_matches=_YEARS_AHEAD)


def _parsed(expression: str) -> list[str]:
    """The fields of a well-formed expression; raises ``ValueError`` naming what is wrong."""
    if not isinstance(expression, str):
        raise ValueError(f"cron expression must be a string, not {type(expression).__name__}")
    fields = expression.split()
    if len(fields) not in FIELD_COUNTS:
        raise ValueError(
            f"cron expression {expression!r} has {len(fields)} fields; expected 5 "
            "(minute hour day-of-month month day-of-week), 6 (second first) or 7 (second "
            "first, year last)"
        )
    try:
        _fire_times(expression, datetime.now(UTC))
    except CroniterError as error:
        raise ValueError(f"invalid cron expression {expression!r}: {error}") from None
    return fields


def validate_expression(expression: str, now: datetime | None = None) -> str:
    """Check a 5-, 6- or 7-field expression and return it with its whitespace normalised.

    Raises ``ValueError`` with the reason when a field is malformed or out of range, or when the
    expression never fires after ``now`` (the current time by default): ``"0 0 30 2 *"``, or a
    7-field one whose years are past.
    """
    fields = _parsed(expression)
    if next_after(expression, to_utc(now) if now is not None else datetime.now(UTC)) is None:
        again = " again" if len(fields) == 7 else ""
        raise ValueError(f"cron expression {expression!r} never fires{again}")
    return " ".join(fields)


def next_after(expression: str, after: datetime) -> datetime | None:
    """The first fire time strictly after ``after`` (an aware UTC datetime), in UTC; None when
    it never fires again (a 7-field expression whose years have passed)."""
    try:
        return _fire_times(expression, after).get_next(datetime).astimezone(UTC)
    except CroniterBadDateError:
        return None


def next_fire_times(expression: str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times of ``expression`` strictly after ``after``, in UTC (fewer
    when its years end before)."""
    _parsed(expression)
    times: list[datetime] = []
    moment = to_utc(after)
    while len(times) < count:
        following = next_after(expression, moment)
        if following is None:
            break
        times.append(following)
        moment = following
    return times
