"""The pages, server side: the demo at ``/`` (the examples app) and the engine's staff-only
dashboard (``steps.dashboard``), both on the engine's page chrome (``steps/base.html``) as the
site overrides it.

The browser tests (``test_browser.py``) run the same pages live in Chromium; the dashboard's
layout and view models are tested alone in ``test_dashboard_*.py``."""

import re
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from steps.dashboard.view_models import GroupCount
from steps.models import DeadLetter, StepRun
from streams.definitions.stream_registry import registry
from streams.sockets.tokens import verify_token
from streams.storage.store import SyncStream

DASHBOARD = reverse("dashboard")


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
    for name in ("site.css", "common.js"):
        assert finders.find(f"streams/pages/{name}"), name
    # Both pages' scripts import the shared module by a path relative to their own.
    demo = _static_text("examples/demo.js")
    assert "from '../streams/pages/common.js'" in demo
    dashboard = _static_text("steps/dashboard.js")
    assert "from '../streams/pages/common.js'" in dashboard
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
    settings.STREAMS_AUTHENTICATE = authenticate
    token = re.search(r'data-stream-token="([^"]*)"', admin_client.get("/").content.decode())
    assert token is not None
    assert verify_token(token.group(1))["role"] == "staff"
    assert 'data-stream-token=""' in client.get("/").content.decode()  # anonymous: none


# --- the page chrome: the engine's, with the site's link to the demo ----------------------------


def nav_links(page: str) -> list[tuple[str, str]]:
    """(href, text) of each link of the top bar's nav."""
    nav = re.search(r"<nav>(.*?)</nav>", page, re.S)
    assert nav is not None
    return re.findall(r'<a href="([^"]*)"[^>]*>([^<]*)</a>', nav.group(1))


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/dashboard/"])
def test_the_site_adds_its_demo_to_the_engines_top_bar(admin_client: Client, path: str) -> None:
    page = admin_client.get(path).content.decode()
    assert nav_links(page) == [
        ("/", "Live demo"),
        ("/dashboard/", "Dashboard"),
        ("/admin/", "Admin"),
        ("/api/docs", "API docs"),
    ]
    assert f'<a href="{path}" aria-current="page">' in page
    assert '<a class="brand" href="/">' in page


@pytest.mark.django_db
@pytest.mark.parametrize("site_templates", [True, False], ids=["site templates", "engine only"])
def test_the_dashboard_works_in_a_project_without_the_examples(
    admin_client: Client, settings: Any, site_templates: bool
) -> None:
    settings.ROOT_URLCONF = "tests.dashboard_urls"
    if not site_templates:
        settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": []}]
    response = admin_client.get("/dashboard/")
    assert response.status_code == 200
    page = response.content.decode()
    assert nav_links(page) == [("/dashboard/", "Dashboard"), ("/admin/", "Admin")]
    assert '<a class="brand" href="/dashboard/">' in page
    assert response.context["flows"]  # the project's steps, drawn as ever
    site_base = str(settings.BASE_DIR / "templates" / "steps" / "base.html")
    assert (site_base in {t.origin.name for t in response.templates}) is site_templates


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
def test_dashboard_draws_the_example_flows_with_their_topic_edges(admin_client: Client) -> None:
    response = admin_client.get(DASHBOARD)
    assert response.status_code == 200
    page = response.content.decode()
    names = [flow.name for flow in response.context["flows"]]
    assert {"todo", "stream-parallel-merge"} <= set(names)
    example_steps = ("CreateTodo", "CompleteTodo", "StartStreamParallelMerge", "StreamStepProcess")
    for step_name in example_steps:
        assert f'data-step="{step_name}"' in page
    merge = next(f for f in response.context["flows"] if f.name == "stream-parallel-merge")
    assert [e.label for e in merge.graph.edges] == ["step.process"]
    assert "<svg" in page and 'marker-end="url(#arrow)"' in page


@pytest.mark.django_db
def test_dashboard_lists_streams_with_their_groups(admin_client: Client) -> None:
    todos = SyncStream(registry.get("todo"))
    todos.set("todos", "t1", {"id": "t1", "description": "Buy milk", "createdAt": "now"})
    todos.set("todos", "t2", {"id": "t2", "description": "Walk", "createdAt": "now"})
    response = admin_client.get(DASHBOARD)
    streams = {s.name: s for s in response.context["streams"]}
    assert set(registry.names()) <= set(streams)
    assert streams["todo"].groups == (GroupCount("todos", 2),)
    assert streams["todo"].watch_all is True
    assert streams["parallelMerge"].groups == ()
    page = response.content.decode()
    assert 'data-stream="todo"' in page and 'data-group="todos"' in page
    assert '<script type="module" src="/static/steps/dashboard.js">' in page


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
