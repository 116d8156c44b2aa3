"""The OpenAPI document of the step endpoints tells the truth, and schemathesis agrees."""

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings
from ninja import NinjaAPI
from ninja.testing import TestAsyncClient
from pydantic import BaseModel, create_model

from steps.definitions.config import StepConfig, StepConfigError
from steps.http.endpoints import build_api
from streams import StreamConfig
from tests.helpers.passes import embedded_pass_only, on_redis
from tests.helpers.processes import ServerProcess, Start, TestDatabase
from tests.helpers.step_builder import build_step, step_registry

# What this file checks does not depend on the database or the channel layer: it runs once,
# in the embedded pass.
pytestmark = [embedded_pass_only, pytest.mark.django_db(transaction=True)]

ENGINE_STATUSES = {"400", "413", "415", "422", "500"}


def refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref":
                yield item
            else:
                yield from refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from refs(item)


@pytest.fixture
def document(client: Client) -> dict[str, Any]:
    return client.get("/api/openapi.json").json()


def schema_of(document: dict[str, Any], ref: dict[str, str]) -> dict[str, Any]:
    return document["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


def test_each_step_body_has_a_schema_of_its_own(document: dict[str, Any]) -> None:
    bodies = {
        path: op["requestBody"]["content"]["application/json"]["schema"]
        for path, op in [
            ("/todos", document["paths"]["/todos"]["post"]),
            ("/notify", document["paths"]["/notify"]["post"]),
            ("/stream-parallel-merge", document["paths"]["/stream-parallel-merge"]["post"]),
        ]
    }
    assert bodies == {
        "/todos": {"$ref": "#/components/schemas/CreateTodoBody"},
        "/notify": {"$ref": "#/components/schemas/SendCustomEventBody"},
        "/stream-parallel-merge": {"$ref": "#/components/schemas/StartStreamParallelMergeBody"},
    }
    assert set(schema_of(document, bodies["/todos"])["properties"]) == {"description", "dueDate"}
    assert set(schema_of(document, bodies["/notify"])["properties"]) == {"groupId", "message"}
    merge = schema_of(document, bodies["/stream-parallel-merge"])
    assert set(merge["properties"]) == {"traceId", "totalSteps"}


def test_every_step_documents_its_responses_and_the_engines_errors(
    document: dict[str, Any],
) -> None:
    declared = {
        ("/todos", "post"): {"201"},
        ("/todos", "get"): {"200"},
        ("/todos/{id}", "delete"): {"204"},
        ("/todos/{id}/complete", "patch"): {"200", "404"},
        ("/notify", "post"): {"200"},
        ("/stream-parallel-merge", "post"): {"200"},
        ("/counters/{id}/increment", "post"): {"200"},
    }
    for (path, method), statuses in declared.items():
        responses = document["paths"][path][method]["responses"]
        assert set(responses) == statuses | ENGINE_STATUSES, (path, method)
        for status in ENGINE_STATUSES:
            content = responses[status]["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert "content" not in document["paths"]["/todos/{id}"]["delete"]["responses"]["204"]
    created = document["paths"]["/todos"]["post"]["responses"]["201"]
    assert created["headers"]["X-Trace-Id"]["required"] is True
    todo = schema_of(document, created["content"]["application/json"]["schema"])
    assert todo["properties"]["todo"] == {"$ref": "#/components/schemas/Todo"}
    missing = document["paths"]["/todos/{id}/complete"]["patch"]["responses"]["404"]
    assert missing["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_path_parameters_say_what_a_key_may_be(document: dict[str, Any]) -> None:
    (parameter,) = document["paths"]["/todos/{id}"]["delete"]["parameters"]
    assert parameter["schema"]["maxLength"] == 255
    assert parameter["schema"]["pattern"] == r"^[^/\x00]+$"


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    names = set(document["components"]["schemas"])
    for ref in refs(document):
        assert ref.removeprefix("#/components/schemas/") in names, ref


# --- response_schema: parsing, naming, checking ---------------------------------------------


class Item(BaseModel):
    name: str


class Wrapped(BaseModel):
    item: Item


# A second model called Item, as another step module would define it.
OtherItem = create_model("Item", size=(int, ...))


class OtherWrapped(BaseModel):
    item: OtherItem


async def answer(request: Any, ctx: Any) -> dict[str, Any]:
    return {"status": int(request.query_params.get("status", 200)), "body": request.body}


@pytest.fixture
def api(define_stream: Callable[..., StreamConfig]) -> NinjaAPI:
    responses: dict[str, dict[str, Any]] = {
        "A": {"response_schema": {200: Wrapped, "204": None}},
        "B": {"responseSchema": {200: OtherWrapped, 201: {"type": "object", "required": ["x"]}}},
        "C": {},
    }
    return build_api(
        step_registry(
            *(
                build_step(
                    answer,
                    name=name,
                    triggers=[
                        {"type": "http", "method": "POST", "path": f"/{name.lower()}", **extra}
                    ],
                )
                for name, extra in responses.items()
            )
        )
    )


def test_clashing_nested_schemas_get_the_steps_name(api: NinjaAPI) -> None:
    document = api.get_openapi_schema()
    schemas = document["components"]["schemas"]
    assert schemas["AResponse200"]["properties"]["item"] == {"$ref": "#/components/schemas/Item"}
    assert schemas["BResponse200"]["properties"]["item"] == {"$ref": "#/components/schemas/BItem"}
    assert set(schemas["Item"]["properties"]) == {"name"}
    assert set(schemas["BItem"]["properties"]) == {"size"}
    assert schemas["BResponse201"]["required"] == ["x"]
    # A step without response_schema documents what it cannot know as "default".
    assert "default" in document["paths"]["/c"]["post"]["responses"]


def test_json_schema_bodies_and_conditions_are_documented() -> None:
    body = {
        "type": "object",
        "properties": {"tag": {"$ref": "#/$defs/Tag"}},
        "required": ["tag"],
        "$defs": {"Tag": {"type": "string", "minLength": 1}},
    }
    trigger = {"type": "http", "method": "POST", "path": "/tags", "bodySchema": body}
    steps = [
        build_step(answer, name="AddTag", triggers=[{**trigger, "condition": lambda r: True}]),
        build_step(answer, name="Plain", triggers=[{**trigger, "path": "/plain"}]),
    ]
    document = build_api(step_registry(*steps)).get_openapi_schema()
    operation = document["paths"]["/tags"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]
    assert ref == {"$ref": "#/components/schemas/AddTagBody"}
    schemas = document["components"]["schemas"]
    assert schemas["AddTagBody"]["properties"] == {"tag": {"$ref": "#/components/schemas/Tag"}}
    assert schemas["AddTagBody"]["required"] == ["tag"]
    assert schemas["Tag"] == {"type": "string", "minLength": 1}
    refused = operation["responses"]["422"]
    assert refused["content"]["application/json"]["schema"] == {
        "anyOf": [
            {"$ref": "#/components/schemas/ErrorBody"},
            {"$ref": "#/components/schemas/ConditionNotMet"},
        ]
    }
    assert "condition" in refused["description"]
    assert set(schemas["ConditionNotMet"]["properties"]) == {"error", "skipped"}
    plain = document["paths"]["/plain"]["post"]["responses"]["422"]
    assert plain["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }


@pytest.mark.parametrize(
    ("status", "body", "problem"),
    [
        (200, {"item": {"name": 5}}, "item.name"),
        (200, None, "has no body"),
        (201, {}, "not in its response_schema"),
    ],
)
async def test_responses_that_break_the_schema_are_500_when_checked(
    api: NinjaAPI, status: int, body: Any, problem: str
) -> None:
    client = TestAsyncClient(api)
    with override_settings(STEPS_VALIDATE_RESPONSES=True):
        response = await client.post(f"/a?status={status}", json=body)
        assert response.status_code == 500
        assert problem in response.json()["detail"]
        good = await client.post("/a?status=200", json={"item": {"name": "n"}})
        assert good.status_code == 200
        engine = await client.post("/a?status=422", json={"detail": "the handler's own 422"})
        assert engine.status_code == 422
    with override_settings(STEPS_VALIDATE_RESPONSES=False):
        response = await client.post("/a?status=200", json={"item": {"name": 5}})
        assert response.status_code == 200


async def test_a_refused_condition_is_not_checked_against_the_steps_own_422() -> None:
    trigger = {
        "type": "http",
        "method": "POST",
        "path": "/gate",
        "responseSchema": {200: None, 422: {"type": "object", "required": ["why"]}},
        "condition": lambda request: False,
    }
    client = TestAsyncClient(
        build_api(step_registry(build_step(answer, name="Gate", triggers=[trigger])))
    )
    with override_settings(STEPS_VALIDATE_RESPONSES=True):
        response = await client.post("/gate", json={})
    assert response.status_code == 422
    assert response.json() == {"error": "Request condition not met", "skipped": True}


async def test_json_schema_responses_are_checked(api: NinjaAPI) -> None:
    client = TestAsyncClient(api)
    with override_settings(STEPS_VALIDATE_RESPONSES=True):
        assert (await client.post("/b?status=201", json={"y": 1})).status_code == 500
        assert (await client.post("/b?status=201", json={"x": 1})).status_code == 201


@pytest.mark.parametrize(
    ("response_schema", "message"),
    [
        ({"ok": None}, "not an HTTP status code"),
        ({700: None}, "not an HTTP status code"),
        ({200: str}, "pydantic model"),
        ({200: {"type": "nonsense"}}, "response_schema"),
        ([200], "map status codes"),
    ],
)
def test_invalid_response_schemas_are_clear_errors(response_schema: Any, message: str) -> None:
    trigger = {"type": "http", "method": "GET", "path": "/x", "response_schema": response_schema}
    with pytest.raises(StepConfigError, match=message):
        StepConfig.parse({"name": "A", "triggers": [trigger]})


# --- schemathesis ---------------------------------------------------------------------------


def test_schemathesis_finds_nothing(tmp_path: Path, database: TestDatabase, start: Start) -> None:
    """Every check schemathesis has, on every step operation: no 5xx, only documented
    statuses, content types, headers and bodies, bad data refused and good data accepted.
    Bounded (examples per operation, a fixed seed) to stay quick and repeatable."""
    st = Path(sys.executable).with_name("st")
    # On Redis, the merges it starts go to a queue of their own (no worker takes them).
    server = start(ServerProcess(database, database.own_queue if on_redis() else {}))
    result = subprocess.run(
        [
            *(str(st), "run", f"{server.http_url}/api/openapi.json", "--checks", "all"),
            *("--max-examples", "40", "--seed", "1", "--workers", "1"),
            *("--request-timeout", "10", "--no-color"),
        ],
        cwd=tmp_path,  # its example database and cache stay out of the project
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
