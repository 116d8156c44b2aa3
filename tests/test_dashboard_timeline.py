"""A trace's timeline (``steps.dashboard.timeline``) and the forms that run a step now
(``steps.dashboard.run_forms``), from unsaved model instances and steps: no database."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from steps.dashboard.run_forms import cron_buttons, example, queue_forms, with_error
from steps.dashboard.timeline import (
    Reach,
    change_key,
    item_of_frame,
    reaches,
    summary,
    timeline,
)
from steps.models import DeadLetter, StepRun, TraceEvent
from streams.publishing.events import StreamEvent
from tests.helpers.step_builder import build_step, nothing

T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def run(step: str, kind: str, start: int, end: int | None, **fields: Any) -> StepRun:
    return StepRun(
        step_name=step,
        kind=kind,
        trace_id="t",
        started_at=at(start),
        finished_at=at(end) if end is not None else None,
        **fields,
    )


def event(kind: str, ms: int, detail: dict[str, Any], step_name: str = "") -> TraceEvent:
    at_ms = round(at(ms).timestamp() * 1000)
    detail_json = json.dumps(detail)
    return TraceEvent(
        trace_id="t", kind=kind, at_ms=at_ms, step_name=step_name, detail_json=detail_json
    )


def change(ms: int, version: int, item: str = "a") -> TraceEvent:
    detail = {"stream": "todo", "group": "todos", "item": item, "type": "create"}
    return event("change", ms, {**detail, "version": version})


# --- the timeline -------------------------------------------------------------------------------


def test_a_request_its_changes_enqueues_runs_retries_and_dead_letter_in_order() -> None:
    failing = {"error": "RuntimeError: no", "detail": {"topic": "work"}}
    log = {"time": T0.timestamp(), "level": "info", "msg": "made", "fields": {"n": 1}}
    request = {"method": "POST", "path": "/todos", "status": 201}
    runs = [  # as read, in any order
        run("Worker", "queue", 40, 45, status="retrying", attempt=0, **failing),
        run("Create", "http", 0, 12, status="succeeded", detail=request, logs=[log]),
        run("Worker", "queue", 1100, 1103, status="failed", attempt=1, **failing),
    ]
    enqueued = event(
        "enqueue", 6, {"topic": "work", "steps": ["Worker"], "data": '{"n":1}'}, "Create"
    )
    letter = DeadLetter(
        pk=7,
        step_name="Worker",
        kind="queue",
        topic="work",
        payload={"data": {"n": 1}},
        trace_id="t",
        attempts=2,
        error="RuntimeError: no",
        created_at=at(1104),
    )
    reach = {("todo", "todos", 3): Reach(sockets=5, processes=2)}
    items = {("todo", "todos", 3): {"id": "a", "description": "Buy milk"}}
    entries = timeline(runs, [change(5, 3), enqueued], [letter], reach, items)

    assert [(e.kind, e.offset_ms) for e in entries] == [
        ("http", 0),
        ("change", 5),
        ("enqueue", 6),
        ("run", 40),
        ("run", 1100),
        ("dead-letter", 1104),
    ]
    http, made, sent, first, second, dead = entries
    assert (http.title, http.step_name, http.duration_ms) == ("POST /todos → 201", "Create", 12)
    assert [line.msg for line in http.log_lines] == ["made"]
    assert made.title == "create todo / todos / a (version 3)"
    assert made.reach == Reach(5, 2)
    assert json.loads(made.data_json) == {"id": "a", "description": "Buy milk"}
    assert sent.title == "Create enqueued work → Worker"
    assert json.loads(sent.data_json) == {"n": 1}
    assert (first.title, first.status, first.attempt) == (
        "Worker: message of work",
        "retrying",
        0,
    )
    assert (second.status, second.attempt, second.error) == ("failed", 1, "RuntimeError: no")
    assert (dead.title, dead.dead_letter_id) == ("dead letter of Worker after 2 attempt(s)", 7)

    glance = summary(entries)
    assert glance.request == "POST /todos → 201"
    assert (glance.runs, glance.failed_runs, glance.changes, glance.sockets) == (3, 1, 1, 5)
    assert (glance.enqueues, glance.dead_letters, glance.span_ms) == (1, 1, 1104)


def test_a_run_comes_before_the_changes_it_made_within_its_first_millisecond() -> None:
    started = T0 + timedelta(microseconds=700)  # a change's time is in whole milliseconds
    made = run("Create", "http", 0, 3, detail={"method": "POST", "path": "/x"})
    made.started_at = started
    entries = timeline([made], [change(0, 1)], [], {}, {})
    assert [(e.kind, e.offset_ms) for e in entries] == [("http", 0), ("change", 0)]


def test_a_change_no_socket_counted_reached_none_and_its_item_may_be_pruned() -> None:
    (entry,) = timeline([], [change(0, 9)], [], {}, {})
    assert entry.reach == Reach(0, 0)
    assert entry.data_json == ""


def test_runs_of_stream_and_cron_triggers_say_what_started_them() -> None:
    stream_detail = {"stream": "todo", "group": "todos", "item": "a", "type": "update"}
    cron_detail = {"expression": "0 * * * *", "origin": "manage.py run_cron"}
    entries = timeline(
        [
            run("Watch", "stream", 0, 1, detail=stream_detail),
            run("Hourly", "cron", 2, None, detail=cron_detail, status="running"),
        ],
        [],
        [],
        {},
        {},
    )
    assert [e.title for e in entries] == [
        "Watch: update of todo/todos/a",
        "Hourly: cron 0 * * * *, fired by manage.py run_cron",
    ]
    assert entries[1].duration_ms is None


def test_things_done_by_hand_name_who_did_them() -> None:
    fired = event(
        "cron", 0, {"expression": "0 * * * *", "origin": "the dashboard (staff)"}, "Hourly"
    )
    preview = {"topic": "work", "steps": ["A", "B"], "data": '{"n', "truncated": True}
    enqueued = event("enqueue", 1, {**preview, "origin": "manage.py enqueue"})
    entries = timeline([], [fired, enqueued], [], {}, {})
    assert [e.title for e in entries] == [
        "the dashboard (staff) fired Hourly (cron 0 * * * *)",
        "manage.py enqueue enqueued work → A, B",
    ]
    assert entries[1].data_json == '{"n …'  # a preview cut short is shown as it is


def test_an_empty_trace_has_an_empty_summary() -> None:
    assert timeline([], [], [], {}, {}) == []
    glance = summary([])
    assert (glance.request, glance.runs, glance.started, glance.span_ms) == ("", 0, None, 0)


def test_socket_counts_are_summed_over_the_processes_that_counted_them() -> None:
    rows = [
        ("todo", "todos", 3, 2, "web-1:10"),
        ("todo", "todos", 3, 4, "web-2:11"),
        ("todo", "todos", 4, 1, "web-1:10"),
    ]
    assert reaches(rows) == {
        ("todo", "todos", 3): Reach(6, 2),
        ("todo", "todos", 4): Reach(1, 1),
    }


def test_a_change_is_keyed_by_its_group_and_version() -> None:
    assert change_key({"stream": "s", "group": "g", "item": None, "version": 4}) == ("s", "g", 4)
    assert change_key({"stream": "s"}) is None


def test_the_item_of_a_logged_frame() -> None:
    create = StreamEvent("create", "todo", "todos", "a", {"id": "a"}, 1, 3)
    custom = StreamEvent("event", "todo", "todos", None, {"type": "ping", "data": 1}, 1, 4)
    assert item_of_frame(create.frame) == {"id": "a"}
    assert item_of_frame(custom.frame) == {"type": "ping", "data": 1}
    assert item_of_frame("not json") is None


# --- the forms that run a step now ----------------------------------------------------------------


class Address(BaseModel):
    city: str
    zip: str | None = None


class Order(BaseModel):
    id: str
    count: int = 1
    price: float
    paid: bool
    tags: list[str]
    kind: str = Field(json_schema_extra={"examples": ["express"]})
    address: Address
    note: str | None = None


def test_an_example_is_made_from_the_input_schema() -> None:
    assert example(Order.model_json_schema()) == {
        "id": "",
        "count": 1,
        "price": 0,
        "paid": False,
        "tags": [],
        "kind": "express",
        "address": {"city": "", "zip": None},
        "note": None,
    }
    assert example({"enum": ["a", "b"]}) == "a"
    assert example({"type": ["null", "integer"]}) == 0


def test_a_form_per_queue_trigger_and_a_button_per_cron_trigger() -> None:
    steps = [
        build_step(
            nothing, name="Ship", triggers=[{"type": "queue", "topic": "order", "input": Order}]
        ),
        build_step(
            nothing,
            name="Audit",
            triggers=[
                {"type": "cron", "expression": "0 * * * *"},
                {"type": "queue", "topic": "order"},
            ],
        ),
        build_step(nothing, name="Api", triggers=[{"type": "http", "method": "GET", "path": "/x"}]),
    ]
    ship, audit = queue_forms(steps)
    assert (ship.step_name, ship.trigger, ship.topic, ship.also) == ("Ship", 0, "order", ("Audit",))
    assert json.loads(ship.data) == example(Order.model_json_schema())
    assert json.loads(ship.schema_json)["title"] == "Order"
    assert (audit.trigger, audit.also, audit.schema_json, audit.data) == (1, ("Ship",), "", "{}")
    assert [(c.step_name, c.trigger, c.expression) for c in cron_buttons(steps)] == [
        ("Audit", 0, "0 * * * *")
    ]

    refused = with_error([ship, audit], "Audit", 1, "{oops", "invalid JSON")
    assert (refused[0].error, refused[1].error, refused[1].data) == ("", "invalid JSON", "{oops")
