"""The cron schedule: Motia's 5-, 6- and 7-field expressions, beat's due checks, and the beat
dict."""

import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest
from celery.schedules import schedstate

from steps.definitions.crontab import next_fire_times, to_croniter, validate_expression
from steps.running.cron import MAX_EXPIRES_SECONDS, CronSchedule, beat_schedule, expires_seconds
from tests.helpers.step_builder import build_step

NOON = datetime(2024, 6, 3, 12, 0, 3, tzinfo=UTC)  # a Monday


def at(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def fixed_now(moment: datetime):
    return lambda: moment


def test_six_fields_put_seconds_last_for_croniter() -> None:
    assert to_croniter("*/10 * * * * *") == "* * * * * */10"
    assert to_croniter("0 */5 * * * *") == "*/5 * * * * 0"
    assert to_croniter("*/5  * * * *") == "*/5 * * * *"


def test_seven_fields_put_seconds_before_the_year_for_croniter() -> None:
    assert to_croniter("5 * * * * * *") == "* * * * * 5 *"
    assert to_croniter("0 0 5 * * * 2030") == "0 5 * * * 0 2030"


def test_seven_fields_are_seconds_first_and_a_year_last() -> None:
    assert next_fire_times("5 * * * * * *", NOON, 2) == [
        at(2024, 6, 3, 12, 0, 5),
        at(2024, 6, 3, 12, 1, 5),
    ]
    assert next_fire_times("0 0 5 * * * *", NOON, 1) == [at(2024, 6, 4, 5, 0)]
    sunday = next_fire_times("0 0 0 * * 0 *", NOON, 1)  # Motia's docs: day of week 0 is Sunday
    assert sunday == [at(2024, 6, 9, 0, 0)] and sunday[0].strftime("%A") == "Sunday"
    assert next_fire_times("0 30 9 1 1 * 2030-2031", NOON, 3) == [
        at(2030, 1, 1, 9, 30),
        at(2031, 1, 1, 9, 30),
    ], "fewer than asked: its years end"
    # Six fields read as Motia's engine reads them too: the seconds first, no year.
    assert next_fire_times("0 2 * * * *", NOON, 2) == [at(2024, 6, 3, 12, 2), at(2024, 6, 3, 13, 2)]


def test_a_year_far_ahead_is_found() -> None:
    assert next_fire_times("0 0 0 29 2 * 2096", NOON, 1) == [at(2096, 2, 29, 0, 0)]


def test_a_seven_field_expression_whose_years_are_past_never_fires_again() -> None:
    assert validate_expression("0  0 0 1 1 * 2024", at(2023, 6, 1, 0, 0)) == "0 0 0 1 1 * 2024"
    with pytest.raises(ValueError, match="never fires again"):
        validate_expression("0 0 0 1 1 * 2024", NOON)
    with pytest.raises(ValueError, match="never fires again"):
        validate_expression("0 0 0 1 1 * 2020")  # the current time by default


def test_a_schedule_whose_years_end_runs_its_last_time_then_never() -> None:
    schedule = CronSchedule("0 0 0 1 1 * 2025", nowfun=fixed_now(at(2025, 1, 1, 0, 0, 1)))
    assert schedule.is_due(at(2024, 12, 31, 23, 0)) == schedstate(True, 3600.0)
    assert schedule.is_due(at(2025, 1, 1, 0, 0, 1)) == schedstate(False, 3600.0)
    assert schedule.remaining_estimate(at(2025, 1, 1, 0, 0, 1)) == timedelta(hours=1)
    assert expires_seconds("0 0 0 1 1 * 2030", NOON) == MAX_EXPIRES_SECONDS
    past = CronSchedule("0 0 0 1 1 * 2025")
    assert pickle.loads(pickle.dumps(past)) == past, "beat still loads it, to never run it"


def test_every_ten_seconds() -> None:
    times = next_fire_times("*/10 * * * * *", NOON, 3)
    assert times == [at(2024, 6, 3, 12, 0, second) for second in (10, 20, 30)]


def test_second_zero_of_every_fifth_minute_matches_five_field_form() -> None:
    expected = [at(2024, 6, 3, 12, 5), at(2024, 6, 3, 12, 10)]
    assert next_fire_times("0 */5 * * * *", NOON, 2) == expected
    assert next_fire_times("*/5 * * * *", NOON, 2) == expected


def test_weekdays_at_half_past_nine() -> None:
    friday_evening = at(2024, 6, 7, 18, 0)
    times = next_fire_times("30 9 * * 1-5", friday_evening, 2)
    assert times == [at(2024, 6, 10, 9, 30), at(2024, 6, 11, 9, 30)]  # Monday, Tuesday


def test_next_times_are_strictly_after() -> None:
    assert next_fire_times("*/10 * * * * *", at(2024, 6, 3, 12, 0, 10), 1) == [
        at(2024, 6, 3, 12, 0, 20)
    ]


def test_naive_and_other_zones_are_read_as_utc() -> None:
    naive = datetime(2024, 6, 3, 12, 0, 3)
    plus_two = NOON.astimezone(timezone(timedelta(hours=2)))
    expected = [at(2024, 6, 3, 12, 5)]
    assert next_fire_times("*/5 * * * *", naive, 1) == expected
    assert next_fire_times("*/5 * * * *", plus_two, 1) == expected
    assert expected[0].tzinfo is UTC


@pytest.mark.parametrize(
    "expression",
    [
        *("61 * * * *", "* * *", "* * * * * * * *", "", "a b c d e", "* 24 * * *"),
        *("61 * * * * *", "0 0 0 1 1 * 2100", "0 0 0 1 13 * *"),
    ],
)
def test_bad_expressions_raise_value_error(expression: str) -> None:
    with pytest.raises(ValueError, match="cron expression"):
        CronSchedule(expression)
    with pytest.raises(ValueError):
        next_fire_times(expression, NOON, 1)


def test_an_expression_that_never_fires_is_rejected() -> None:
    with pytest.raises(ValueError, match="never fires"):
        CronSchedule("0 0 30 2 *")


def test_due_once_the_next_fire_time_has_passed() -> None:
    schedule = CronSchedule("*/10 * * * * *", nowfun=fixed_now(at(2024, 6, 3, 12, 0, 12)))
    state = schedule.is_due(at(2024, 6, 3, 12, 0, 3))
    assert state == schedstate(True, 8.0)  # 12:00:10 passed; next check at 12:00:20
    assert schedule.remaining_estimate(at(2024, 6, 3, 12, 0, 3)) == timedelta(0)


def test_not_due_before_the_next_fire_time() -> None:
    schedule = CronSchedule("*/10 * * * * *", nowfun=fixed_now(at(2024, 6, 3, 12, 0, 7)))
    assert schedule.is_due(at(2024, 6, 3, 12, 0, 3)) == schedstate(False, 3.0)
    assert schedule.remaining_estimate(at(2024, 6, 3, 12, 0, 3)) == timedelta(seconds=3)


def test_due_exactly_at_the_fire_time_and_waits_a_positive_time() -> None:
    schedule = CronSchedule("0 */5 * * * *", nowfun=fixed_now(at(2024, 6, 3, 12, 5)))
    due, wait = schedule.is_due(at(2024, 6, 3, 12, 0, 3))
    assert due
    assert wait == 300.0


def test_missed_runs_collapse_into_one() -> None:
    schedule = CronSchedule("*/5 * * * *", nowfun=fixed_now(at(2024, 6, 3, 15, 2)))
    assert schedule.is_due(at(2024, 6, 3, 12, 0)) == schedstate(True, 180.0)
    assert schedule.is_due(at(2024, 6, 3, 15, 2)) == schedstate(False, 180.0)


def test_naive_and_aware_last_run_at_agree() -> None:
    now = at(2024, 6, 3, 12, 0, 12)
    schedule = CronSchedule("*/10 * * * * *", nowfun=fixed_now(now))
    naive = datetime(2024, 6, 3, 12, 0, 3)
    aware_elsewhere = at(2024, 6, 3, 12, 0, 3).astimezone(timezone(timedelta(hours=-5)))
    assert schedule.is_due(naive) == schedule.is_due(aware_elsewhere) == schedstate(True, 8.0)
    naive_now = CronSchedule("*/10 * * * * *", nowfun=fixed_now(now.replace(tzinfo=None)))
    assert naive_now.is_due(naive) == schedstate(True, 8.0)


def test_pickle_round_trip_repr_and_equality() -> None:
    schedule = CronSchedule("*/10  * * * * *")
    copy = pickle.loads(pickle.dumps(schedule))
    assert copy == schedule
    assert hash(copy) == hash(schedule)
    assert copy.expression == "*/10 * * * * *"
    assert repr(copy) == "<CronSchedule: */10 * * * * *>"
    assert schedule != CronSchedule("*/5 * * * *")


def test_expires_is_the_interval_capped() -> None:
    assert expires_seconds("*/10 * * * * *", NOON) == 10.0
    assert expires_seconds("*/5 * * * *", NOON) == 300.0
    assert expires_seconds("30 9 * * 1-5", NOON) == MAX_EXPIRES_SECONDS


def test_beat_schedule_has_one_entry_per_cron_trigger() -> None:
    ticker = build_step(
        name="Ticker",
        triggers=[
            {"type": "queue", "topic": "tick"},
            {"type": "cron", "expression": "*/10 * * * * *"},
            {"type": "cron", "expression": "30 9 * * 1-5"},
            {"type": "cron", "expression": "5 * * * * * *"},
        ],
    )
    http_only = build_step(name="Api", triggers=[{"type": "http", "method": "GET", "path": "/x"}])
    schedule = beat_schedule([ticker, http_only])
    assert list(schedule) == ["Ticker:cron:1", "Ticker:cron:2", "Ticker:cron:3"]
    entry = schedule["Ticker:cron:1"]
    assert entry["task"] == "steps.run_step"
    assert entry["schedule"] == CronSchedule("*/10 * * * * *")
    assert entry["args"] == (
        "Ticker",
        {"kind": "cron", "trigger": 1, "expression": "*/10 * * * * *"},
    )
    assert entry["options"] == {"expires": 10.0}
    weekdays = schedule["Ticker:cron:2"]
    assert weekdays["args"][1]["trigger"] == 2
    assert 0 < weekdays["options"]["expires"] <= MAX_EXPIRES_SECONDS
    assert schedule["Ticker:cron:3"]["schedule"] == CronSchedule("5 * * * * * *")
    assert schedule["Ticker:cron:3"]["options"] == {"expires": 60.0}
    pickle.loads(pickle.dumps(schedule))  # beat stores entries with pickle


def test_beat_schedule_of_no_steps_is_empty() -> None:
    assert beat_schedule([]) == {}
