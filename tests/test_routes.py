"""Route precedence and route claims (pure), and the API built in precedence order whatever
order the steps were registered in."""

from typing import Any

import pytest
from ninja.testing import TestAsyncClient

from steps.http.endpoints import build_api
from steps.http.routes import RouteClaim, conflicts, in_precedence_order, path_shape
from tests.helpers.step_builder import build_step, step_registry

pytestmark = pytest.mark.django_db(transaction=True)


def claim(path: str, method: str = "GET", step: str = "S") -> RouteClaim:
    return RouteClaim(method, path, step, f"app.{step.lower()}_step")


def test_static_segments_come_before_parameters_segment_by_segment() -> None:
    paths = [
        "/greetings/:name",
        "/:section/summary",
        "/greetings/summary",
        "/greetings/:name/summary",
        "/greetings/:name/:part",
        "/greetings",
        "/files/:name.json",
    ]
    ordered = [c.path for c in in_precedence_order(claim(p) for p in paths)]
    assert ordered == [
        "/files/:name.json",
        "/greetings",
        "/greetings/summary",
        "/greetings/:name",
        "/greetings/:name/summary",
        "/greetings/:name/:part",
        "/:section/summary",
    ]


def test_the_shape_of_a_path_leaves_parameter_names_out() -> None:
    assert path_shape("/todos/:id/items/:itemId") == path_shape("/todos/:key/items/:n")
    assert path_shape("/todos/:id") != path_shape("/todos/id")


def test_claims_on_one_method_and_shape_conflict() -> None:
    claims = [
        claim("/todos", "POST", "CreateTodo"),
        claim("/todos/:id", "GET", "ReadTodo"),
        claim("/todos/:key", "DELETE", "DeleteTodo"),
        claim("/todos", "POST", "AddTodo"),
        claim("/todos/:key", "GET", "FindTodo"),
        claim("/todos", "GET", "ListTodos"),
    ]
    assert [(a.step, b.step) for a, b in conflicts(claims)] == [
        ("CreateTodo", "AddTodo"),
        ("ReadTodo", "FindTodo"),
    ]
    assert claims[3].describe() == "POST /todos of step 'AddTodo' (app.addtodo_step)"


async def named(request: Any, ctx: Any) -> dict[str, Any]:
    return {"status": 200, "body": {"step": ctx.trigger.path, "params": request.path_params}}


@pytest.mark.parametrize("reverse", [False, True], ids=["parameter-first", "static-first"])
async def test_the_api_serves_in_precedence_order_whatever_the_registration_order(
    reverse: bool,
) -> None:
    steps = [
        build_step(named, name=name, triggers=[{"type": "http", "method": method, "path": path}])
        for name, method, path in [
            ("ByName", "GET", "/greetings/:name"),
            ("Summary", "GET", "/greetings/summary"),
            ("DeleteByKey", "DELETE", "/greetings/:key"),
        ]
    ]
    client = TestAsyncClient(build_api(step_registry(*(reversed(steps) if reverse else steps))))
    summary = await client.get("/greetings/summary")
    assert summary.json() == {"step": "/greetings/summary", "params": {}}
    ann = await client.get("/greetings/ann")
    assert ann.json() == {"step": "/greetings/:name", "params": {"name": "ann"}}
    deleted = await client.delete("/greetings/ann")
    assert deleted.json() == {"step": "/greetings/:key", "params": {"key": "ann"}}
