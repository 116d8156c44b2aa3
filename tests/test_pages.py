"""The pages, server side: the demo at ``/`` and the staff-only dashboard (``motia_site.views``).

The browser tests (``test_browser.py``) run the same pages live in Chromium."""

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from motia_site.views import layout_flow
from steps.models import DeadLetter, StepRun
from streams.registry import registry
from streams.store import SyncStream
from streams.tokens import verify_token

DASHBOARD = reverse("dashboard")


def step(name: str, triggers: list[dict[str, Any]], enqueues: Sequence[str] = ()) -> dict[str, Any]:
    return {"name": name, "triggers": triggers, "enqueues": list(enqueues)}


def queue(topic: str) -> dict[str, Any]:
    return {"type": "queue", "topic": topic, "hasCondition": False}


def edge(source: str, target: str, topic: str, flow: str = "f") -> dict[str, Any]:
    return {"flow": flow, "from": source, "to": target, "topic": topic, "virtual": False}


# --- the demo -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_demo_page_renders_the_todo_list_and_the_merge(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response["content-type"].startswith("text/html")
    page = response.content.decode()
    for element in ('id="todo-form"', 'id="todo-list"', 'id="merge-form"', 'id="connection"'):
        assert element in page
    assert 'role="progressbar"' in page
    assert '<script type="module" src="/static/examples/demo.js">' in page
    # Every asset is served by this server: no other host is named in a src or href.
    assert not re.search(r'(src|href)="(https?:)?//', page)


def _static_text(path: str) -> str:
    found = finders.find(path)
    assert isinstance(found, str), f"no static file {path}"
    return Path(found).read_text()


def test_the_page_assets_are_static_files_next_to_the_client() -> None:
    for name in ("site.css", "common.js", "dashboard.js"):
        assert finders.find(f"streams/pages/{name}"), name
    demo = _static_text("examples/demo.js")
    assert "from '../streams/pages/common.js'" in demo
    common = _static_text("streams/pages/common.js")
    assert "from '../stream-client.js'" in common


@pytest.mark.django_db(transaction=True)  # the step views are async
def test_step_endpoints_still_answer_next_to_the_page(client: Client) -> None:
    assert client.get("/todos").status_code == 200
    assert client.get("/api/flows").status_code == 401  # staff only, as the dashboard


@pytest.mark.django_db
def test_no_stream_token_without_stream_authentication(admin_client: Client) -> None:
    assert 'data-stream-token=""' in admin_client.get("/").content.decode()


@pytest.mark.django_db
def test_signed_in_users_get_a_stream_token_when_streams_authenticate(
    admin_client: Client, client: Client, settings: Any
) -> None:
    authenticate = "examples.auth.authenticate_stream"
    settings.STREAMS = {**settings.STREAMS, "AUTHENTICATE": authenticate}
    token = re.search(r'data-stream-token="([^"]*)"', admin_client.get("/").content.decode())
    assert token is not None
    assert verify_token(token.group(1))["role"] == "staff"
    assert 'data-stream-token=""' in client.get("/").content.decode()  # anonymous: none


# --- the dashboard: who may see it ----------------------------------------------------------------


@pytest.mark.django_db
def test_dashboard_sends_anonymous_users_to_the_admin_login(client: Client) -> None:
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert response["location"].startswith(reverse("admin:login"))
    assert "next=/dashboard/" in response["location"]


@pytest.mark.django_db
def test_dashboard_is_for_staff_only(client: Client) -> None:
    user = User.objects.create_user("visitor", password="pw")
    client.force_login(user)
    assert client.get(DASHBOARD).status_code == 302


# --- the dashboard: what staff see ----------------------------------------------------------------


@pytest.mark.django_db
def test_dashboard_draws_the_seed_flows_with_their_topic_edges(admin_client: Client) -> None:
    response = admin_client.get(DASHBOARD)
    assert response.status_code == 200
    page = response.content.decode()
    names = [flow.name for flow in response.context["flows"]]
    assert {"todo", "stream-parallel-merge"} <= set(names)
    seed_steps = ("CreateTodo", "CompleteTodo", "StartStreamParallelMerge", "StreamStepProcess")
    for step_name in seed_steps:
        assert f'data-step="{step_name}"' in page
    merge = next(f for f in response.context["flows"] if f.name == "stream-parallel-merge")
    assert [e.label for e in merge.edges] == ["step.process"]
    assert "<svg" in page and 'marker-end="url(#arrow)"' in page


@pytest.mark.django_db
def test_dashboard_lists_streams_with_their_groups(admin_client: Client) -> None:
    todos = SyncStream(registry.get("todo"))
    todos.set("todos", "t1", {"id": "t1", "description": "Buy milk", "createdAt": "now"})
    todos.set("todos", "t2", {"id": "t2", "description": "Walk", "createdAt": "now"})
    response = admin_client.get(DASHBOARD)
    streams = {s["name"]: s for s in response.context["streams"]}
    assert set(registry.names()) <= set(streams)
    assert streams["todo"]["groups"] == [{"id": "todos", "count": 2}]
    assert streams["todo"]["watch_all"] is True
    assert streams["parallelMerge"]["groups"] == []
    page = response.content.decode()
    assert 'data-stream="todo"' in page and 'data-group="todos"' in page
    assert "/static/streams/pages/dashboard.js" in page


@pytest.mark.django_db
def test_dashboard_shows_recent_dead_letters_and_step_runs_with_logs(
    admin_client: Client,
) -> None:
    DeadLetter.objects.create(
        step_name="StreamStepProcess",
        kind="queue",
        topic="step.process",
        payload={"traceId": "trace-dead", "stepIndex": 2},
        trace_id="trace-dead",
        attempts=3,
        error="RuntimeError: boom",
        traceback="Traceback ...",
    )
    StepRun.objects.create(
        step_name="StreamStepProcess",
        kind="queue",
        trace_id="trace-run",
        status=StepRun.Status.SUCCEEDED,
        logs=[
            {"time": time.time(), "level": "info", "msg": "Processing step", "fields": {"i": 1}},
            {"time": time.time(), "level": "info", "msg": "Step completed", "fields": {}},
        ],
    )
    page = admin_client.get(DASHBOARD).content.decode()
    assert "RuntimeError: boom" in page and "trace-dead" in page and "step.process" in page
    assert "trace-run" in page and "succeeded" in page
    assert "Processing step" in page and "Step completed" in page and "2 lines" in page


@pytest.mark.django_db
def test_dashboard_keeps_only_the_recent_runs_and_filters_by_trace(admin_client: Client) -> None:
    for index in range(25):
        StepRun.objects.create(step_name="S", kind="queue", trace_id=f"t{index}")
    response = admin_client.get(DASHBOARD)
    assert len(response.context["runs"]) == 20
    response = admin_client.get(DASHBOARD, {"trace": "t3"})
    assert [run.trace_id for run in response.context["runs"]] == ["t3"]
    assert "Showing the dead letters and step runs of trace" in response.content.decode()


# --- the graph layout (pure) ----------------------------------------------------------------------


def test_layout_puts_a_step_right_of_the_steps_that_enqueue_to_it() -> None:
    flow = {
        "name": "f",
        "steps": [
            step("A", [{"type": "http", "method": "POST", "path": "/a"}], ["x"]),
            step("B", [queue("x")], ["y"]),
            step("C", [queue("y")]),
            step("Lone", [{"type": "cron", "expression": "* * * * *"}]),
        ],
    }
    graph = layout_flow(flow, [edge("A", "B", "x"), edge("B", "C", "y"), edge("A", "C", "x", "g")])
    nodes = {n.name: n for n in graph.nodes}
    assert nodes["A"].x < nodes["B"].x < nodes["C"].x
    assert nodes["Lone"].y > nodes["A"].y  # unlinked steps go below
    assert [(e.label, e.virtual) for e in graph.edges] == [("x", False), ("y", False)]
    assert graph.width >= nodes["C"].x + nodes["C"].width
    assert graph.height >= nodes["Lone"].y + nodes["Lone"].height
    assert nodes["A"].lines == ["POST /a"]


def test_layout_survives_cycles_and_self_loops() -> None:
    flow = {"name": "f", "steps": [step("A", [queue("a")], ["b"]), step("B", [queue("b")], ["a"])]}
    graph = layout_flow(flow, [edge("A", "B", "b"), edge("B", "A", "a"), edge("A", "A", "b")])
    assert len(graph.edges) == 3
    assert all(e.path.startswith("M") for e in graph.edges)
    nodes = {n.name: n for n in graph.nodes}
    assert nodes["A"].x < nodes["B"].x  # two layers: the cycle is broken, not unrolled
