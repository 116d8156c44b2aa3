"""Bad input to step endpoints: always a 4xx JSON error naming the problem, nothing changed.

The table goes through the step endpoints' own ASGI path (:class:`steps.http.asgi.StepHandler`,
as servers run it), on SQLite and, in the services pass, on PostgreSQL, which refuses NUL
where SQLite would keep it.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from django.test import override_settings
from ninja import NinjaAPI
from ninja.testing import TestAsyncClient

from steps.http.asgi import StepHandler
from steps.http.endpoints import build_api
from streams import StreamConfig
from streams.models import StreamItem
from streams.storage.store import StreamKeyError, SyncStream, check_key
from tests.helpers.step_builder import build_step, step_registry

pytestmark = pytest.mark.django_db(transaction=True)

LONG = "a" * 300
JSON = {"Content-Type": "application/json"}
LIMIT = 64 * 1024  # DATA_UPLOAD_MAX_MEMORY_SIZE in these tests: small, to keep them quick


@dataclass
class Case:
    """One bad request and what it must get: the status, and a text the error names."""

    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))
    status: int = 422
    names: str = ""


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


CASES = {
    # Keys the store cannot hold: in the path, and in bodies that name a group or an item.
    "delete a todo with a 300-character id": Case("DELETE", f"/todos/{LONG}", names="id"),
    "delete a todo with NUL in its id": Case("DELETE", "/todos/a%00b", names="id"),
    "complete a todo with a 300-character id": Case("PATCH", f"/todos/{LONG}/complete", names="id"),
    "increment a counter with a 300-character id": Case(
        "POST", f"/counters/{LONG}/increment", body(dict(by=1)), names="id"
    ),
    "notify an empty group": Case(
        "POST", "/notify", body({"groupId": "", "message": "x"}), names="groupId"
    ),
    "notify a 300-character group": Case(
        "POST", "/notify", body({"groupId": LONG, "message": "x"}), names="groupId"
    ),
    "notify a group with NUL": Case(
        "POST", "/notify", body({"groupId": "a\x00", "message": "x"}), names="groupId"
    ),
    "merge with an empty trace id": Case(
        "POST", "/stream-parallel-merge", body({"traceId": ""}), names="traceId"
    ),
    "merge with a 300-character trace id": Case(
        "POST", "/stream-parallel-merge", body({"traceId": LONG}), names="traceId"
    ),
    # Data the database refuses.
    "a description with NUL": Case(
        "POST", "/todos", body({"description": "a\x00b"}), names="description"
    ),
    "a due date with NUL": Case(
        "POST", "/todos", body({"description": "a", "dueDate": "\x00"}), names="dueDate"
    ),
    "a lone surrogate": Case(
        "POST", "/todos", b'{"description": "\\ud800"}', status=400, names="JSON"
    ),
    # Bodies that are not what the step takes.
    "not JSON": Case("POST", "/todos", b"{nope", status=400, names="JSON"),
    "not JSON, to a step without a body schema": Case(
        "PATCH", "/todos/x/complete", b"{nope", status=400, names="JSON"
    ),
    "trailing garbage": Case("POST", "/todos", b'{"description": "a"} x', status=400),
    "no body": Case("POST", "/todos", b"", names="body"),
    "a list": Case("POST", "/todos", b"[1]", names="body"),
    "a number for a string": Case("POST", "/todos", body({"description": 5}), names="description"),
    "true for an integer": Case("POST", "/counters/c/increment", body({"by": True}), names="by"),
    "a string for an integer": Case("POST", "/counters/c/increment", body({"by": "1"}), names="by"),
    "an integer out of range": Case(
        "POST", "/counters/c/increment", body({"by": 10**30}), names="by"
    ),
    "a fraction for an integer": Case(
        "POST", "/stream-parallel-merge", body({"totalSteps": 2.5}), names="totalSteps"
    ),
    "infinity": Case("POST", "/counters/c/increment", b'{"by": 1e400}'),
    # Content types: JSON, or nothing said.
    "text/plain": Case(
        "POST", "/todos", body({"description": "a"}), {"Content-Type": "text/plain"}, 415
    ),
    "a form": Case(
        "POST",
        "/todos",
        b"description=a",
        {"Content-Type": "application/x-www-form-urlencoded"},
        415,
        "Content-Type",
    ),
    # Sizes.
    "a body over the limit": Case(
        "POST", "/todos", b'{"description": "' + b"a" * LIMIT + b'"}', status=413, names="larger"
    ),
    "a Content-Length that is not a number": Case(
        "POST", "/todos", body({"description": "a"}), {**JSON, "Content-Length": "x"}, 400
    ),
}


@pytest.fixture
def limit() -> Iterator[None]:
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=LIMIT):
        yield


async def call_asgi(
    method: str, path: str, headers: dict[str, str], chunks: list[bytes]
) -> tuple[int, dict[str, str], bytes]:
    """One request to the step handler, its body sent in ``chunks`` (chunked, without a
    Content-Length unless ``headers`` gives one)."""
    path, _, query = path.partition("?")
    raw_path = path.encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": httpx.URL(path).path,  # decoded, as servers give it
        "raw_path": raw_path,
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks or [b""])
    ]
    sent: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await done.wait()  # the client goes once it has its response, as a real one does
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await StepHandler()(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    response_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], response_headers, content


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
async def test_bad_input_is_a_4xx_json_error(case: Case, limit: None) -> None:
    before = await StreamItem.objects.acount()
    headers = {"Content-Length": str(len(case.body)), **case.headers} if case.body else case.headers
    status, response_headers, content = await call_asgi(
        case.method, case.path, headers, [case.body]
    )
    assert status == case.status, content
    assert response_headers["content-type"] == "application/json"
    detail = orjson.loads(content)["detail"]
    assert case.names in orjson.dumps(detail).decode()
    assert await StreamItem.objects.acount() == before


async def test_a_chunked_body_over_the_limit_is_413_before_it_is_read(limit: None) -> None:
    chunks = [b'{"description": "'] + [b"a" * 1024] * 200 + [b'"}']
    status, headers, content = await call_asgi("POST", "/todos", JSON, chunks)
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert orjson.loads(content) == {"detail": f"request body is larger than {LIMIT} bytes"}
    assert await StreamItem.objects.acount() == 0


async def test_what_the_rules_let_through_is_accepted(limit: None) -> None:
    """The leniencies: no Content-Type is JSON, a JSON subtype is JSON, 3.0 is an integer."""
    for headers in ({}, {"Content-Type": "application/vnd.api+json; charset=utf-8"}):
        status, _, content = await call_asgi(
            "POST", "/todos", headers, [body({"description": "ok"})]
        )
        assert status == 201, content
    status, _, content = await call_asgi("POST", "/counters/c/increment", JSON, [body({"by": 3.0})])
    assert (status, orjson.loads(content)) == (200, {"id": "c", "value": 3})
    key = "k" * 255  # the longest key there is
    status, _, content = await call_asgi("POST", f"/counters/{key}/increment", JSON, [b"{}"])
    assert status == 200, content


# --- what a handler's stream calls refuse ---------------------------------------------------


async def set_item(request: Any, ctx: Any) -> dict[str, Any]:
    data = request.body
    await ctx.streams.things.set(data["group"], data["id"], data.get("item", {}))
    return {"status": 201, "body": {}}


def set_item_sync(request: Any, ctx: Any) -> dict[str, Any]:
    data = request.body
    ctx.streams.things.set(data["group"], data["id"], data.get("item", {}))
    return {"status": 201, "body": {}}


async def update_item(request: Any, ctx: Any) -> dict[str, Any]:
    data = request.body
    await ctx.streams.things.update(data["group"], data["id"], data["ops"])
    return {"status": 200, "body": {}}


async def send_event(request: Any, ctx: Any) -> dict[str, Any]:
    data = request.body
    await ctx.streams.things.send({"groupId": data["group"]}, {"type": "t", "data": data})
    return {"status": 200, "body": {}}


async def read_item(request: Any, ctx: Any) -> dict[str, Any]:
    data = request.body
    item = await ctx.streams.things.get(data["group"], data["id"])
    return {"status": 200, "body": {"item": item}}


async def fail(request: Any, ctx: Any) -> dict[str, Any]:
    raise RuntimeError("a bug in the handler")


@pytest.fixture
def api(define_stream: Callable[..., StreamConfig]) -> Iterator[NinjaAPI]:
    define_stream("things")
    handlers = {
        "Set": set_item,
        "SetSync": set_item_sync,
        "Update": update_item,
        "Send": send_event,
        "Read": read_item,
        "Fail": fail,
    }
    yield build_api(
        step_registry(
            *(
                build_step(
                    handler,
                    name=name,
                    triggers=[{"type": "http", "method": "POST", "path": f"/{name.lower()}"}],
                )
                for name, handler in handlers.items()
            )
        )
    )


@pytest.fixture
async def client(api: NinjaAPI) -> AsyncIterator[TestAsyncClient]:
    yield TestAsyncClient(api)


STORE_CASES = {
    "an empty group": ("/set", {"group": "", "id": "x"}, "group_id", "non-empty"),
    "a 300-character group": ("/set", {"group": LONG, "id": "x"}, "group_id", "longer"),
    "a 300-character item": ("/set", {"group": "g", "id": LONG}, "item_id", "longer"),
    "a NUL in the item id": ("/set", {"group": "g", "id": "a\x00"}, "item_id", "NUL"),
    "a group that is a number": ("/set", {"group": 5, "id": "x"}, "group_id", "string"),
    "a NUL in item data": (
        "/set",
        {"group": "g", "id": "x", "item": {"a": ["ok", "b\x00"]}},
        "things.a.1",
        "NUL",
    ),
    "a NUL in an item's key": (
        "/set",
        {"group": "g", "id": "x", "item": {"k\x00": 1}},
        "things.k\x00",
        "NUL",
    ),
    "a NUL from a plain handler": (
        "/setsync",
        {"group": "g", "id": "x", "item": {"a": "\x00"}},
        "things.a",
        "NUL",
    ),
    "a NUL set by an update": (
        "/update",
        {"group": "g", "id": "x", "ops": [{"type": "set", "path": "a", "value": "\x00"}]},
        "things.a",
        "NUL",
    ),
    "an event to a 300-character group": ("/send", {"group": LONG}, "group_id", "longer"),
}


@pytest.mark.parametrize(
    ("path", "data", "loc", "message"), STORE_CASES.values(), ids=list(STORE_CASES)
)
async def test_keys_and_data_the_store_refuses_are_422(
    client: TestAsyncClient, path: str, data: dict[str, Any], loc: str, message: str
) -> None:
    response = await client.post(path, json=data)
    assert response.status_code == 422, response.content
    (error,) = response.json()["detail"]
    assert ".".join(str(part) for part in error["loc"]).endswith(loc)
    assert message in error["msg"]
    assert await StreamItem.objects.acount() == 0


async def test_nul_in_a_custom_event_is_sent_and_stores_nothing(client: TestAsyncClient) -> None:
    """A custom event is not stored: its data may hold what the database would refuse."""
    response = await client.post("/send", json={"group": "g", "text": "a\x00"})
    assert response.status_code == 200, response.content


async def test_reading_a_key_that_cannot_exist_finds_nothing(client: TestAsyncClient) -> None:
    for key in ("a\x00", LONG, ""):
        response = await client.post("/read", json={"group": key, "id": key})
        assert (response.status_code, response.json()) == (200, {"item": None})


async def test_a_failing_handler_is_a_500_json_error(
    client: TestAsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="steps"):
        response = await client.post("/fail", json={})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    # The log names the step that failed, and why.
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "step Fail failed: POST /fail"
    assert record.exc_info and "a bug in the handler" in str(record.exc_info[1])


def test_key_errors_stay_value_errors(define_stream: Callable[..., StreamConfig]) -> None:
    """Callers that caught ValueError keep working."""
    with pytest.raises(ValueError, match="group id is longer than 255 characters"):
        check_key("group id", LONG)
    things = SyncStream(define_stream("things"))
    with pytest.raises(StreamKeyError) as raised:
        things.set("g", "\ud800", {})
    assert (raised.value.kind, raised.value.stream_name) == ("item id", "things")
    assert "surrogate" in raised.value.problem
    assert things.get("g\x00", "x") is None
    assert things.list("g\x00") == []
