"""What the dashboard's template shows (``steps.dashboard.view_models``), built from the flows
overview, group counts and unsaved model instances: no database."""

from datetime import UTC, datetime, timedelta
from typing import Any

from steps.dashboard.view_models import (
    SMALL_STREAM_GROUPS,
    SMALL_STREAM_ITEMS,
    GroupCount,
    StreamView,
    dead_letter_view,
    flow_view,
    flow_views,
    log_line,
    run_view,
    stream_views,
)
from steps.models import DeadLetter, StepRun


def step(name: str, triggers: list[dict[str, Any]], enqueues: list[str]) -> dict[str, Any]:
    return {"name": name, "triggers": triggers, "enqueues": enqueues}


def queue(topic: str) -> dict[str, Any]:
    return {"type": "queue", "topic": topic, "hasCondition": False}


def edge(source: str, target: str, topic: str, flow: str | None = "f") -> dict[str, Any]:
    return {"flow": flow, "from": source, "to": target, "topic": topic, "virtual": False}


FLOW = {
    "name": "f",
    "steps": [
        step("A", [{"type": "http", "method": "POST", "path": "/a"}], ["x", "out"]),
        step("B", [queue("x")], []),
        step("Idle", [], []),
    ],
}


def test_a_flow_is_drawn_with_its_own_edges_only() -> None:
    edges = [edge("A", "B", "x"), edge("A", "B", "x", flow="g"), edge("A", "C", "x", flow=None)]
    view = flow_view(FLOW, edges)
    assert (view.name, view.step_count) == ("f", 3)
    assert [e.label for e in view.graph.edges] == ["x"]
    nodes = {node.name: node for node in view.graph.nodes}
    # A topic no step of the flow receives is a line of its node; one it does is an arrow.
    assert nodes["A"].lines == ("POST /a", "→ out")
    assert (nodes["B"].kind, nodes["B"].lines) == ("queue", ("queue x",))
    assert (nodes["Idle"].kind, nodes["Idle"].lines) == ("none", ())


def test_every_flow_of_the_overview_gets_a_view() -> None:
    other = {"name": "g", "steps": [step("B", [queue("x")], [])]}
    views = flow_views({"flows": [FLOW, other], "edges": [edge("A", "B", "x")]})
    assert [(v.name, len(v.graph.edges)) for v in views] == [("f", 1), ("g", 0)]


def test_streams_list_their_groups_and_small_ones_are_watched_whole() -> None:
    many_groups = [("wide", f"g{i}", 1) for i in range(SMALL_STREAM_GROUPS + 1)]
    counts = [("todo", "todos", 2), ("big", "all", SMALL_STREAM_ITEMS + 1), *many_groups]
    views = {v.name: v for v in stream_views(["todo", "empty", "big", "wide"], counts)}
    assert views["todo"] == StreamView("todo", (GroupCount("todos", 2),), 2, True)
    assert views["empty"] == StreamView("empty", (), 0, True)
    assert views["big"].watch_all is False
    assert views["wide"].watch_all is False and views["wide"].items == SMALL_STREAM_GROUPS + 1


def test_streams_not_named_are_left_out() -> None:
    assert stream_views(["todo"], [("gone", "g", 1)]) == [StreamView("todo", (), 0, True)]


def test_a_run_tells_how_long_it_took_and_its_log_lines() -> None:
    started = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    logs = [{"time": started.timestamp(), "level": "info", "msg": "Hi", "fields": {"n": 1}}]
    run = StepRun(
        step_name="S",
        kind="queue",
        trace_id="t",
        status=StepRun.Status.SUCCEEDED,
        started_at=started,
        finished_at=started + timedelta(milliseconds=1234),
        logs=logs,
    )
    view = run_view(run)
    assert (view.step_name, view.trace_id, view.status, view.duration_ms) == (
        "S",
        "t",
        "succeeded",
        1234,
    )
    (line,) = view.log_lines
    assert (line.at, line.level, line.msg, line.fields_json) == (started, "info", "Hi", '{"n": 1}')
    assert not hasattr(run, "duration_ms")  # the instance is read, never written to


def test_a_run_still_running_has_no_duration_nor_logs() -> None:
    view = run_view(StepRun(step_name="S", kind="queue", trace_id="t", logs=None))
    assert (view.status, view.duration_ms, view.log_lines) == ("running", None, ())


def test_a_log_line_without_a_readable_time_or_fields_still_shows() -> None:
    line = log_line({"time": "soon", "level": "error", "msg": "Boom"})
    assert (line.at, line.level, line.msg, line.fields_json) == (None, "error", "Boom", "{}")


def test_a_dead_letter_shows_its_payload_as_indented_json() -> None:
    letter = DeadLetter(
        pk=7,
        step_name="S",
        kind="queue",
        topic="t",
        payload={"b": 1, "a": [2]},
        trace_id="tr",
        attempts=4,
        error="RuntimeError: boom",
    )
    view = dead_letter_view(letter)
    assert (view.id, view.step_name, view.attempts, view.redriven_at) == (7, "S", 4, None)
    assert view.payload_json == '{\n  "a": [\n    2\n  ],\n  "b": 1\n}'
