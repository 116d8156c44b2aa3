"""The flows overview: flows_overview over built steps, ``manage.py steps`` and GET /api/flows."""

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from pydantic import BaseModel

from steps.definitions.flows import describe_trigger, flows_overview, format_overview
from steps.definitions.step_registry import StepRegistry
from steps.definitions.step_registry import registry as project_steps
from tests.helpers.step_builder import build_step, step_registry


class Body(BaseModel):
    text: str


class Job(BaseModel):
    id: str


def make_registry(*configs: dict[str, Any]) -> StepRegistry:
    """A registry of steps built from raw configs (module ``tests.<name>``)."""
    return step_registry(*(build_step(**config) for config in configs))


def condition(input: Any, ctx: Any) -> bool:
    return True


SAMPLE = (
    {
        "name": "Submit",
        "description": "Take a job over HTTP.",
        "triggers": [{"type": "http", "method": "post", "path": "/jobs", "bodySchema": Body}],
        "enqueues": ["job.submitted"],
        "virtualEnqueues": ["job.audit"],
        "flows": ["jobs", "audit"],
    },
    {
        "name": "Process",
        "triggers": [{"type": "queue", "topic": "job.submitted", "input": Job}],
        "enqueues": ["job.done"],
        "flows": ["jobs"],
    },
    {
        "name": "Notify",
        "triggers": [
            {"type": "queue", "topic": "job.done", "condition": condition},
            {"type": "stream", "streamName": "parallelMerge", "groupId": "merge-groups"},
        ],
    },
    {
        "name": "Auditor",
        "triggers": [{"type": "cron", "expression": "*/5 * * * *"}],
        "virtualSubscribes": ["job.audit"],
        "flows": ["audit"],
    },
)


@pytest.fixture
def overview() -> dict[str, Any]:
    return flows_overview(make_registry(*SAMPLE))


def steps_of(overview: dict[str, Any], flow: str) -> dict[str, dict[str, Any]]:
    (found,) = [f for f in overview["flows"] if f["name"] == flow]
    return {step["name"]: step for step in found["steps"]}


# --- flows_overview ---------------------------------------------------------------------------


def test_flows_and_steps_are_sorted_and_no_flow_goes_to_default(overview: dict) -> None:
    assert [f["name"] for f in overview["flows"]] == ["audit", "default", "jobs"]
    assert [s["name"] for s in overview["flows"][0]["steps"]] == ["Auditor", "Submit"]
    assert list(steps_of(overview, "default")) == ["Notify"]
    assert list(steps_of(overview, "jobs")) == ["Process", "Submit"]


def test_a_step_in_several_flows_appears_in_each(overview: dict) -> None:
    in_audit = steps_of(overview, "audit")["Submit"]
    assert in_audit == steps_of(overview, "jobs")["Submit"]
    assert in_audit == {
        "name": "Submit",
        "description": "Take a job over HTTP.",
        "flows": ["jobs", "audit"],
        "triggers": [
            {
                "type": "http",
                "method": "POST",
                "path": "/jobs",
                "bodySchema": "Body",
                "description": "",
            }
        ],
        "enqueues": ["job.submitted"],
        "subscribes": [],
        "virtualEnqueues": ["job.audit"],
        "virtualSubscribes": [],
        "module": "tests.Submit",
    }
    assert steps_of(overview, "default")["Notify"]["flows"] == ["default"]


def test_all_four_trigger_kinds(overview: dict) -> None:
    process = steps_of(overview, "jobs")["Process"]
    assert process["triggers"] == [
        {"type": "queue", "topic": "job.submitted", "input": "Job", "hasCondition": False}
    ]
    assert process["subscribes"] == ["job.submitted"]
    notify = steps_of(overview, "default")["Notify"]
    assert notify["triggers"] == [
        {"type": "queue", "topic": "job.done", "input": None, "hasCondition": True},
        {
            "type": "stream",
            "streamName": "parallelMerge",
            "groupId": "merge-groups",
            "itemId": None,
            "hasCondition": False,
        },
    ]
    auditor = steps_of(overview, "audit")["Auditor"]
    assert auditor["triggers"] == [{"type": "cron", "expression": "*/5 * * * *"}]
    assert auditor["virtualSubscribes"] == ["job.audit"]


def test_edges_follow_topics_within_shared_flows(overview: dict) -> None:
    assert overview["edges"] == [
        # Process (jobs) -> Notify (default): the two share no flow.
        {"flow": None, "from": "Process", "to": "Notify", "topic": "job.done", "virtual": False},
        # Submit -> Auditor: virtual (documented only), in the one flow both are in.
        {"flow": "audit", "from": "Submit", "to": "Auditor", "topic": "job.audit", "virtual": True},
        {
            "flow": "jobs",
            "from": "Submit",
            "to": "Process",
            "topic": "job.submitted",
            "virtual": False,
        },
    ]


def test_an_edge_per_shared_flow_and_a_real_topic_beats_a_virtual_one() -> None:
    steps = make_registry(
        {
            "name": "A",
            "triggers": [{"type": "cron", "expression": "0 * * * *"}],
            "enqueues": ["t"],
            "virtualEnqueues": ["t"],
            "flows": ["x", "y"],
        },
        {"name": "B", "triggers": [{"type": "queue", "topic": "t"}], "flows": ["y", "x"]},
        {"name": "C", "triggers": [{"type": "queue", "topic": "other"}], "flows": ["x"]},
    )
    assert flows_overview(steps)["edges"] == [
        {"flow": "x", "from": "A", "to": "B", "topic": "t", "virtual": False},
        {"flow": "y", "from": "A", "to": "B", "topic": "t", "virtual": False},
    ]


def test_the_overview_is_plain_json(overview: dict) -> None:
    assert json.loads(json.dumps(overview)) == overview
    assert flows_overview([]) == {"flows": [], "edges": []}


def test_text_lists_steps_with_triggers_and_enqueues(overview: dict) -> None:
    text = format_overview(overview)
    assert text.splitlines() == [
        "audit (2 steps)",
        "  Auditor  cron */5 * * * *",
        "  Submit   POST /jobs  -> job.submitted, ~job.audit",
        "",
        "default (1 step)",
        "  Notify  queue job.done (if condition), stream parallelMerge/merge-groups",
        "",
        "jobs (2 steps)",
        "  Process  queue job.submitted  -> job.done",
        "  Submit   POST /jobs  -> job.submitted, ~job.audit",
    ]
    item = {"type": "stream", "streamName": "s", "groupId": "g", "itemId": "i"}
    assert describe_trigger(item) == "stream s/g/i"
    assert format_overview(flows_overview([])) == "no steps"


# --- the real project -------------------------------------------------------------------------

TODO_ROUTES = {
    "CreateTodo": "POST /todos",
    "CompleteTodo": "PATCH /todos/:id/complete",
    "DeleteTodo": "DELETE /todos/:id",
    "ListTodos": "GET /todos",
}


def test_manage_py_steps_lists_the_todo_flow() -> None:
    out = StringIO()
    call_command("steps", stdout=out)
    blocks = {block.splitlines()[0]: block for block in out.getvalue().split("\n\n")}
    (todo,) = [block for heading, block in blocks.items() if heading.startswith("todo (")]
    rows = {line.split()[0]: line for line in todo.splitlines()[1:]}
    for name, route in TODO_ROUTES.items():
        assert route in rows[name], f"{name} {route} not listed under todo"


def test_manage_py_steps_json_is_the_overview() -> None:
    out = StringIO()
    call_command("steps", "--json", stdout=out)
    printed = json.loads(out.getvalue())
    assert printed == flows_overview(project_steps)
    todo = steps_of(printed, "todo")
    for name, route in TODO_ROUTES.items():
        method, path = route.split()
        assert {"method": method, "path": path} in [
            {"method": t.get("method"), "path": t.get("path")} for t in todo[name]["triggers"]
        ]
    assert todo["CreateTodo"]["triggers"][0]["bodySchema"] == "Body"


@pytest.mark.django_db
def test_get_api_flows_returns_the_overview_to_staff(admin_client: Client) -> None:
    response = admin_client.get("/api/flows")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == flows_overview(project_steps)
    assert set(TODO_ROUTES) <= set(steps_of(response.json(), "todo"))


@pytest.mark.django_db
def test_get_api_flows_is_for_staff_only_as_the_dashboard(
    client: Client, django_user_model: Any
) -> None:
    anonymous = client.get("/api/flows")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "Unauthorized"}
    assert client.get("/dashboard/").status_code == 302  # to the admin's login
    client.force_login(django_user_model.objects.create_user("visitor", password="x"))
    assert client.get("/api/flows").status_code == 401
    assert client.get("/dashboard/").status_code == 302


def test_seven_field_cron_steps_are_shown_as_written() -> None:
    steps = make_registry(
        {"name": "Nightly", "triggers": [{"type": "cron", "expression": "0 0 2 * * * *"}]}
    )
    overview = flows_overview(steps)
    (step,) = overview["flows"][0]["steps"]
    assert step["triggers"] == [{"type": "cron", "expression": "0 0 2 * * * *"}]
    assert "  Nightly  cron 0 0 2 * * * *" in format_overview(overview).splitlines()


def test_a_json_schema_is_named_by_its_title() -> None:
    titled = {"title": "Note", "type": "object"}
    steps = make_registry(
        {
            "name": "Notes",
            "triggers": [
                {"type": "http", "method": "POST", "path": "/n", "bodySchema": titled},
                {"type": "queue", "topic": "n", "input": {"type": "object"}},
            ],
        }
    )
    (step,) = flows_overview(steps)["flows"][0]["steps"]
    assert [step["triggers"][0]["bodySchema"], step["triggers"][1]["input"]] == [
        "Note",
        "JSON schema",
    ]
