"""HTTP triggers: the example todo endpoints through Django, and step features through ninja."""

import json
import logging
import logging.handlers
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.test import Client
from ninja import NinjaAPI
from ninja.testing import TestAsyncClient
from pydantic import BaseModel

from steps.definitions.config import StepConfig, StepConfigError, StreamTrigger
from steps.http.endpoints import build_api, to_response
from steps.models import StepRun
from steps.records.runs import flush_runs
from streams import StreamConfig
from tests.helpers.processes import ServerProcess
from tests.helpers.step_builder import build_step, step_registry
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)


def post_json(client: Client, path: str, body: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


# --- the example todo flow ----------------------------------------------------------------


def test_create_todo(client: Client) -> None:
    response = post_json(client, "/todos", {"description": "Buy milk", "dueDate": "2026-12-01"})
    assert response.status_code == 201
    todo = response.json()["todo"]
    assert todo["description"] == "Buy milk"
    assert todo["dueDate"] == "2026-12-01"
    assert todo["id"] and todo["createdAt"]
    assert response.headers["X-Trace-Id"]
    listed = client.get("/todos").json()
    assert listed == {"todos": [todo], "groups": ["todos"]}


def test_each_request_is_a_step_run_with_its_logs(client: Client) -> None:
    response = post_json(client, "/todos", {"description": "Logged"})
    flush_runs()  # runs are written in batches, off the request's path
    (run,) = StepRun.objects.filter(step_name="CreateTodo")
    assert run.kind == "http"
    assert run.status == "succeeded"
    assert run.trace_id == response.headers["X-Trace-Id"]
    assert [entry["msg"] for entry in run.logs] == ["Todo created and broadcast"]
    assert run.logs[0]["fields"] == {"todoId": response.json()["todo"]["id"]}
    assert run.finished_at is not None and run.finished_at >= run.started_at


def test_create_todo_validates_the_body(client: Client) -> None:
    response = post_json(client, "/todos", {"dueDate": 5})
    assert response.status_code == 422
    locations = {tuple(error["loc"]) for error in response.json()["detail"]}
    assert ("body", "description") in locations
    assert ("body", "dueDate") in locations
    bad_json = client.post("/todos", data="{nope", content_type="application/json")
    assert 400 <= bad_json.status_code < 500
    assert client.get("/todos").json()["todos"] == []


def test_complete_and_delete_todo(client: Client) -> None:
    todo = post_json(client, "/todos", {"description": "Write tests"}).json()["todo"]
    response = client.patch(f"/todos/{todo['id']}/complete")
    assert response.status_code == 200
    assert response.json() == {"success": True}
    (stored,) = client.get("/todos").json()["todos"]
    assert stored["completedAt"]
    assert stored["metadata"] == {"completedBy": "user-123"}
    assert stored["description"] == "Write tests"

    assert client.delete(f"/todos/{todo['id']}").status_code == 204
    assert client.get("/todos").json()["todos"] == []


def test_completing_a_missing_todo_is_404(client: Client) -> None:
    response = client.patch("/todos/no-such-todo/complete")
    assert response.status_code == 404
    assert client.get("/todos").json()["todos"] == []


def test_openapi_docs_list_the_step_endpoints(client: Client) -> None:
    assert client.get("/api/docs").status_code == 200
    schema = client.get("/api/openapi.json").json()
    assert {"/todos", "/todos/{id}/complete", "/todos/{id}"} <= set(schema["paths"])
    create = schema["paths"]["/todos"]["post"]
    assert create["summary"] == "CreateTodo"
    assert create["requestBody"]["content"]["application/json"]["schema"]


# --- step features --------------------------------------------------------------------------


class Greeting(BaseModel):
    name: str
    times: int = 1


def greet(request: Any, ctx: Any) -> dict[str, Any]:
    """A plain (sync) handler: ctx.streams is synchronous here."""
    ctx.streams.greetings.set(request.params["room"], request.body.name, request.body.model_dump())
    ctx.logger.info("greeted", {"name": request.body.name})
    return {
        "status": 201,
        "body": {
            "room": request.path_params["room"],
            "query": request.query_params,
            "trace": ctx.trace_id,
            "stored": ctx.streams.greetings.get(request.params["room"], request.body.name),
        },
        "headers": {"X-Greeted": request.body.name},
    }


async def store_bad_item(request: Any, ctx: Any) -> dict[str, Any]:
    await ctx.streams.greetings.set("room", "x", {"name": 42})
    return {"status": 200, "body": {}}


async def bad_op(request: Any, ctx: Any) -> dict[str, Any]:
    await ctx.streams.greetings.update("room", "x", [{"type": "explode"}])
    return {"status": 200, "body": {}}


async def raw_body(request: Any, ctx: Any) -> dict[str, Any]:
    return {"status": 200, "body": {"echo": request.body}}


@pytest.fixture
def api(define_stream: Callable[..., StreamConfig]) -> Iterator[NinjaAPI]:
    define_stream("greetings", schema=Greeting)
    routes: list[tuple[str, Callable[..., Any], dict[str, Any]]] = [
        ("Greet", greet, {"method": "POST", "path": "/rooms/:room/greet", "bodySchema": Greeting}),
        ("StoreBad", store_bad_item, {"method": "POST", "path": "/bad-item"}),
        ("BadOp", bad_op, {"method": "POST", "path": "/bad-op"}),
        ("Raw", raw_body, {"method": "POST", "path": "/raw"}),
    ]
    yield build_api(
        step_registry(
            *(
                build_step(handler, name=name, triggers=[{"type": "http", **trigger}])
                for name, handler, trigger in routes
            )
        )
    )


async def test_sync_handler_with_path_query_body_and_headers(api: NinjaAPI) -> None:
    """A plain handler runs on a database thread, behind an async view."""
    logger = logging.getLogger("steps")
    handler = logging.handlers.BufferingHandler(capacity=1000)  # keeps what it is given
    logger.addHandler(handler)
    try:
        response = await TestAsyncClient(api).post(
            "/rooms/lobby/greet?lang=en&tag=a&tag=b",
            json={"name": "ann"},
            headers={"X-Trace-Id": "trace-123"},
        )
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 201, response.content
    assert response.json() == {
        "room": "lobby",
        "query": {"lang": "en", "tag": ["a", "b"]},
        "trace": "trace-123",
        "stored": {"id": "ann", "name": "ann", "times": 1},
    }
    assert response["X-Greeted"] == "ann"
    assert response["X-Trace-Id"] == "trace-123"
    (record,) = [r for r in handler.buffer if r.getMessage() == "greeted"]
    extra = vars(record)  # the fields the step's logger adds to the record
    assert extra["trace_id"] == "trace-123"
    assert extra["step"] == "Greet"
    assert extra["fields"] == {"name": "ann"}


async def test_stream_errors_in_a_handler_are_422_with_fields(api: NinjaAPI) -> None:
    client = TestAsyncClient(api)
    response = await client.post("/bad-item", json={})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["stream", "greetings", "name"]
    response = await client.post("/bad-op", json={})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["ops", 0]


async def test_handlers_without_a_body_schema_get_parsed_json(api: NinjaAPI) -> None:
    client = TestAsyncClient(api)
    assert (await client.post("/raw", json={"a": [1]})).json() == {"echo": {"a": [1]}}
    assert (await client.post("/raw")).json() == {"echo": None}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"triggers": [{"type": "http", "method": "GET", "path": "/x"}]}, "name"),
        ({"name": "A", "triggers": []}, "at least one trigger"),
        ({"name": "A", "triggers": [{"type": "http", "method": "FETCH", "path": "/x"}]}, "method"),
        ({"name": "A", "triggers": [{"type": "http", "method": "GET", "path": "x"}]}, "start"),
        ({"name": "A", "triggers": [{"type": "carrier-pigeon"}]}, "unknown trigger type"),
        ({"name": "A", "triggers": [{"type": "cron", "expression": "* *"}]}, "2 fields"),
        ({"name": "A", "triggers": [{"type": "queue", "topic": "t"}], "colour": 1}, "unknown"),
        (
            {"name": "A", "triggers": [{"type": "http", "method": "GET", "path": "/", "x": 1}]},
            "unknown key 'x'",
        ),
    ],
)
def test_invalid_step_configs_are_clear_errors(config: dict[str, Any], message: str) -> None:
    with pytest.raises(StepConfigError, match=message):
        StepConfig.parse(config)


def test_motia_style_camel_case_configs_parse() -> None:
    config = StepConfig.parse(
        {
            "name": "Merge",
            "triggers": [
                {"type": "stream", "streamName": "parallelMerge", "groupId": "merge-groups"},
                {"type": "queue", "topic": "step.process"},
                {"type": "cron", "expression": "*/5 * * * *"},
            ],
            "enqueues": ["done"],
            "flows": ["stream-parallel-merge"],
        }
    )
    assert [t.type for t in config.triggers] == ["stream", "queue", "cron"]
    stream_trigger = config.triggers[0]
    assert isinstance(stream_trigger, StreamTrigger)
    assert stream_trigger.stream_name == "parallelMerge"
    assert config.enqueues == ("done",)


class Envelope(BaseModel):
    status: int
    body: dict[str, Any]


def test_a_status_may_be_given_as_status_code_and_wins_over_status() -> None:
    created = to_response({"status_code": 201, "body": {"a": 1}}, "t")
    assert (created.status_code, json.loads(created.content)) == (201, {"a": 1})
    assert to_response({"status_code": 202, "status": 200, "body": {}}, "t").status_code == 202
    assert to_response({"status_code": 204}, "t").status_code == 204
    modelled = to_response(Envelope(status=201, body={"b": 2}), "t")
    assert (modelled.status_code, json.loads(modelled.content)) == (201, {"b": 2})
    assert modelled["X-Trace-Id"] == "t"


# --- served by a real server: tests.http_app's steps over HTTP -------------------------------


@pytest.fixture
def http(http_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=http_server.http_url, timeout=10) as client:
        yield client


def test_a_static_segment_wins_over_a_parameter_registered_first(http: httpx.Client) -> None:
    summary = http.get("/greetings/summary")
    assert (summary.status_code, summary.json()) == (200, {"summary": True})
    ann = http.get("/greetings/ann")
    assert (ann.status_code, ann.json()) == (200, {"greeting": "hello ann"})


def test_each_method_of_one_route_is_reached_whatever_its_parameters_are_named(
    http: httpx.Client,
) -> None:
    read = http.get("/notes/n1")
    assert (read.status_code, read.json()) == (200, {"read": {"noteId": "n1"}})
    deleted = http.delete("/notes/n1")
    assert (deleted.status_code, deleted.json()) == (200, {"deleted": {"id": "n1"}})


def test_a_json_schema_body_is_validated_and_given_as_parsed_json(http: httpx.Client) -> None:
    note = {"text": "hi", "tags": ["a"], "priority": 2.0, "extra": None}
    created = http.post("/json-notes", json=note)
    assert created.status_code == 201, "the handler's status_code"
    assert created.json() == {"received": note, "kind": "dict"}
    assert created.headers["X-Trace-Id"]

    refused = http.post("/json-notes", json={"text": "", "tags": [3], "priority": True})
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert [(e["loc"], e["type"]) for e in detail] == [
        (["body", "priority"], "type"),
        (["body", "tags", 0], "type"),
        (["body", "text"], "minLength"),
    ]
    assert all(e["msg"] for e in detail)
    missing = http.post("/json-notes", json={"tags": []}).json()["detail"]
    assert [(e["loc"], e["type"]) for e in missing] == [
        (["body", "text"], "missing"),
        (["body", "priority"], "missing"),
    ]
    assert http.post("/json-notes", content=b"{nope").status_code == 400
    no_body = http.post("/json-notes").json()["detail"]
    assert no_body == [{"loc": ["body"], "msg": "Field required", "type": "missing"}]


def step_runs(server: ServerProcess, step: str, count: int) -> list[tuple[str, list[Any]]]:
    """The first ``count`` recorded runs of ``step`` in the server's database, oldest first:
    ``(status, what the handler logged)``."""

    def recorded() -> list[tuple[str, list[Any]]]:
        rows = server.database.query(
            f"SELECT status, logs FROM steps_steprun WHERE step_name = '{step}' ORDER BY id"
        )
        runs = [
            (status, logs if isinstance(logs, list) else json.loads(logs)) for status, logs in rows
        ]
        return runs if len(runs) >= count and all(s != "running" for s, _ in runs) else []

    return eventually(recorded, f"{count} finished runs of {step}", timeout=10)[:count]


def test_a_false_condition_is_a_422_and_the_handler_does_not_run(
    http_server: ServerProcess, http: httpx.Client
) -> None:
    refused = http.post("/guarded", json={"allow": False})
    assert refused.status_code == 422
    assert refused.json() == {"error": "Request condition not met", "skipped": True}
    assert refused.headers["X-Trace-Id"]
    allowed = http.post("/guarded", json={"allow": True})
    assert (allowed.status_code, allowed.json()) == (200, {"ran": True})
    failing = http.post("/guarded", json={"explode": True})
    assert failing.status_code == 500
    assert failing.json() == {"detail": "internal server error"}
    (skipped, ran, failed) = step_runs(http_server, "Guarded", 3)
    assert skipped == ("skipped", [])
    assert ran[0] == "succeeded" and [entry["msg"] for entry in ran[1]] == ["handled"]
    assert failed == ("failed", [])
    assert "RuntimeError: the condition failed" in http_server.log()


def test_a_plain_condition_may_take_the_request_alone(http: httpx.Client) -> None:
    assert http.get("/plain-guarded").json() == {
        "error": "Request condition not met",
        "skipped": True,
    }
    assert http.get("/plain-guarded?allow=1").json() == {"ran": True}


def test_middleware_wraps_the_handler_the_first_outermost(http: httpx.Client) -> None:
    wrapped = http.get("/wrapped")
    assert wrapped.status_code == 201
    assert wrapped.json() == {"trail": ["outer", "inner", "handler"], "after": "outer"}
    assert wrapped.headers["X-Outer"] == wrapped.headers["X-Trace-Id"], "the handler's ctx"
    stopped = http.get("/wrapped?stop=1")
    assert stopped.status_code == 403, "the inner middleware answered without the handler"
    assert stopped.json() == {"stopped": "inner", "after": "outer"}
    assert stopped.headers["X-Outer"]
