"""Every answer of the step endpoints is JSON: each method on each route of the example site
and on ``/api/flows``, and paths under those routes that match none (404), on real servers
(runserver with DEBUG on, uvicorn as production runs it with DEBUG off).

What a route takes: its steps' methods; HEAD where it takes GET (GET's answer without its
body); OPTIONS (204 with ``Allow``, no body). Any other method is a 405 with ``Allow`` and a
JSON body naming the methods. Pages keep Django's own answers.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import orjson
import pytest
from django.test import override_settings

from steps.definitions.config import HttpTrigger
from steps.definitions.step_registry import registry
from steps.http.asgi import Route, route_of
from steps.http.responses import ErrorBody
from tests.helpers.deployment import LOCAL_PLAIN_HTTP
from tests.helpers.passes import embedded_pass_only
from tests.helpers.processes import ServerProcess, TestDatabase, logs_on_failure

# What this file checks does not depend on the database or the channel layer: it runs once,
# in the embedded pass.
pytestmark = embedded_pass_only

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

# What each route of the example site answers to its steps' own methods, sent with no body and
# "x" for every path parameter (nothing is created: a body is required where one is taken).
ROUTES: dict[str, dict[str, int]] = {
    "/todos": {"GET": 200, "POST": 422},
    "/todos/:id": {"DELETE": 204},
    "/todos/:id/complete": {"PATCH": 404},  # no todo x
    "/counters/:id/increment": {"POST": 422},
    "/notify": {"POST": 422},
    "/stream-parallel-merge": {"POST": 422},
}

# Paths under the step routes that match none of them: empty segments, trailing slashes, more.
NO_ROUTE = [
    "/todos/",
    "/todos//complete",
    "/todos/x/",
    "/todos/x/complete/",
    "/todos/x/complete/more",
    "/counters//increment",
    "/notify/",
]


@dataclass(frozen=True)
class Expected:
    status: int
    allow: frozenset[str] | None = None  # the Allow header, when there must be one


def allowed(declared: dict[str, int]) -> frozenset[str]:
    methods = {*declared, "OPTIONS"}
    if "GET" in methods:
        methods.add("HEAD")
    return frozenset(methods)


def expected(declared: dict[str, int], method: str) -> Expected:
    if method in declared:
        return Expected(declared[method])
    if method == "HEAD" and "GET" in declared:
        return Expected(declared["GET"])
    if method == "OPTIONS":
        return Expected(204, allowed(declared))
    return Expected(405, allowed(declared))


CASES: dict[str, tuple[str, str, Expected]] = {}
for route, declared in ROUTES.items():
    concrete = "/".join("x" if part.startswith(":") else part for part in route.split("/"))
    for method in METHODS:
        CASES[f"{method} {concrete}"] = (method, concrete, expected(declared, method))
for path in NO_ROUTE:
    for method in METHODS:
        CASES[f"{method} {path}"] = (method, path, Expected(404))
# GET /api/flows (for staff: 401 here) is django-ninja's route beside the steps', served by
# Django with its middleware: a method it does not take is answered as the steps' routes do.
for method in METHODS:
    CASES[f"{method} /api/flows"] = (method, "/api/flows", expected({"GET": 401}, method))


def test_the_table_has_every_route_of_the_example_site() -> None:
    served: dict[str, set[str]] = {}
    for step in registry:
        for trigger in step.config.triggers_of(HttpTrigger):
            served.setdefault(trigger.path, set()).add(trigger.method)
    assert served == {route: set(declared) for route, declared in ROUTES.items()}


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/todos", Route.STEP),
        ("/todos/x/complete", Route.STEP),
        ("/healthz", Route.HEALTH),
        ("/todos/", Route.NO_STEP),
        ("/todos//complete", Route.NO_STEP),
        ("/counters", Route.NO_STEP),  # the literal start of /counters/:id/increment
        ("/todos/archive/all/", Route.PAGE),  # a page of the project's own, under /todos
        ("/todos/archive/all", Route.PAGE),  # which Django redirects to with its slash
        ("/todos/archive", Route.STEP),  # DELETE /todos/:id
        ("/todosx", Route.PAGE),
        ("/api/docs", Route.PAGE),
        ("/elsewhere/", Route.PAGE),
    ],
)
def test_what_serves_a_path(path: str, route: Route) -> None:
    with override_settings(ROOT_URLCONF="tests.step_routes_urls"):
        assert route_of(path) is route


@pytest.fixture(scope="module", params=["runserver", "uvicorn"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    production = request.param == "uvicorn"
    env = LOCAL_PLAIN_HTTP if production else {}
    with (
        TestDatabase(tmp_path_factory.mktemp(request.param)) as database,
        ServerProcess(database, env, name=request.param, production=production) as server,
    ):
        yield server


@pytest.fixture(scope="module")
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.http_url, timeout=10) as client:
        yield client


@pytest.mark.parametrize(("method", "path", "want"), CASES.values(), ids=list(CASES))
def test_every_answer_is_json(
    request: pytest.FixtureRequest,
    server: ServerProcess,
    http: httpx.Client,
    method: str,
    path: str,
    want: Expected,
) -> None:
    with logs_on_failure(request, [server]):
        response = http.request(method, path)
    assert response.status_code == want.status, response.text
    if want.allow is not None:
        assert set(response.headers["allow"].split(", ")) == want.allow
    if response.status_code == 204:
        assert response.content == b""
        return
    assert response.headers["content-type"].split(";")[0] == "application/json"
    if method == "HEAD":
        assert response.content == b""  # the headers GET would have, without the body
        return
    body = orjson.loads(response.content)
    if response.status_code >= 400:
        ErrorBody.model_validate(body)  # {"detail": ...}, as every engine error
    if response.status_code == 405:
        assert all(m in body["detail"] for m in want.allow or ())


def test_pages_keep_djangos_answers(http: httpx.Client) -> None:
    """Outside the step routes, paths are Django's: its own 404 page, the admin's redirect to
    its login, the middleware's CSRF refusal."""
    missing = http.get("/no-such-page/")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert http.get("/admin/").status_code == 302
    refused = http.put("/dashboard/")
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
