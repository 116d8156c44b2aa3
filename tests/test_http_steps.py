"""HTTP triggers: the seed's todo endpoints through Django, and step features through ninja."""

import json
import logging
import logging.handlers
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from ninja import NinjaAPI
from ninja.testing import TestAsyncClient
from pydantic import BaseModel

from steps.config import StepConfig, StepConfigError, StreamTrigger
from steps.http import build_api
from steps.models import StepRun
from steps.runs import flush_runs
from streams import StreamConfig
from tests.helpers.step_builder import build_step, step_registry

pytestmark = pytest.mark.django_db(transaction=True)


def post_json(client: Client, path: str, body: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


# --- the seed's todo flow -------------------------------------------------------------------


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


def test_seed_style_camel_case_configs_parse() -> None:
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
