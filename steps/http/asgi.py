"""Serving step endpoints: Django's request handling, without a thread per request.

Django's ASGI handler gives each request a thread of its own for sync code (asgiref's
``ThreadSensitiveContext``) and runs each sync-only middleware there, one thread hop per
middleware method. Starting and joining that thread costs about half of a bare async view's
time, and the hops of the stock middleware (sessions, CSRF, messages, ...) cut it to a third.

Step endpoints need neither: their handlers run on the event loop or on the engine's database
threads (:mod:`streams.runtime.db`). So :class:`StepRouter` hands requests for step routes to
:class:`StepHandler`, which is Django's ASGI handler serving them on the event loop alone and
without middleware (the ``request_started``/``request_finished`` signals are still sent, without
a thread hop while only Django's own receivers listen: :mod:`.request_signals`); every other
request (pages, the admin, the API docs) goes to Django's handler as usual. Concerns an API
needs across endpoints (CORS, rate limits) belong in ASGI middleware around the whole app.

A body larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is answered 413 with a JSON error before it
is read: at once when its ``Content-Length`` says so, and as soon as a chunked body passes the
limit otherwise (Django itself would read it whole, then answer 400 with an HTML page).

What the middleware would have checked is checked here, and every refusal is JSON, as the
API's other errors are: a ``Host`` that is not one of ``ALLOWED_HOSTS`` is a 400
(:mod:`streams.sockets.hosts`: a page of another name rebound to the server's address, the health
check excepted), a path under a step route that matches none a 404, a method a route does not
take a 405 with ``Allow`` (:func:`steps.http.responses.answering_other_methods`; ``HEAD`` is
served as ``GET`` where a route takes ``GET``, ``OPTIONS`` answered 204).
"""

import asyncio
import contextlib
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Iterator
from enum import Enum
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, ResolverMatch, URLResolver, get_resolver, set_script_prefix
from django.urls.resolvers import RoutePattern

from streams.sockets import refused_host, scope_header, send_http_error

from ..checks import require_valid_definitions
from . import request_signals

# URL names of step routes start with this (see steps.http.endpoints.build_api).
STEP_URL_NAME_PREFIX = "step-"
# The health check's (steps.urls): served as step routes are, but for any Host.
HEALTH_URL_NAME = f"{STEP_URL_NAME_PREFIX}healthz"
# Whether a path is a step route is remembered for paths up to this long.
MAX_REMEMBERED_PATH = 200
# The scope key under which StepRouter hands StepHandler the match of a step's URL pattern.
RESOLVER_MATCH = "steps.resolver_match"


def max_body_bytes() -> int | None:
    """The largest request body a step endpoint takes (None: no limit)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return None if limit is None else int(limit)


def body_too_large_message() -> str:
    return f"request body is larger than {max_body_bytes()} bytes"


class BodyTooLarge(Exception):
    """A request body passed :func:`max_body_bytes` while it was read."""


def _declared_length(scope: dict[str, Any]) -> int | None:
    """The request's ``Content-Length`` (-1 when it is not a number), None without one."""
    value = scope_header(scope, b"content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return -1


class StepHandler(ASGIHandler):
    """Django's ASGI handler for step routes: no middleware, no thread per request, and a
    limit on the request body (413)."""

    # Django's (private: django-stubs does not declare it), the view call without middleware.
    _get_response_async: Callable[[HttpRequest], Awaitable[HttpResponseBase]]

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Callable[..., Any]] = []
        self._template_response_middleware: list[Callable[..., Any]] = []
        self._exception_middleware: list[Callable[..., Any]] = []
        # A method a route does not take is answered by the route's view itself
        # (steps.urls: answering_other_methods), as under Django's own handler.
        self._middleware_chain = convert_exception_to_response(self._get_response_async)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        limit = max_body_bytes()
        declared = _declared_length(scope)
        if declared is not None and declared < 0:
            await send_http_error(send, 400, "Content-Length is not a number")
            return
        if limit is not None and declared is not None and declared > limit:
            await send_http_error(send, 413, body_too_large_message())
            return
        try:
            await self.handle(scope, receive, send)
        except BodyTooLarge:
            await send_http_error(send, 413, body_too_large_message())

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Django's request cycle (``ASGIHandler.handle``): the body read, the request made, the
        view run while a disconnect of the client is listened for (it cancels the view), the
        response sent and closed; with the request signals sent by :mod:`.request_signals`
        (on the event loop while only Django's own receivers listen)."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        await request_signals.started(self.__class__, scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            assert error_response is not None  # Django's: no request, its error's response
            body_file.close()
            await self.send_response(error_response, send)
            await request_signals.finished(self.__class__, error_response)
            return
        serving = asyncio.create_task(self._serve(request, send))
        listening = asyncio.create_task(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait((listening, serving), return_when=asyncio.FIRST_COMPLETED)
            for task in (listening, serving):  # the listener first: it raises only RequestAborted
                if task.done():
                    with contextlib.suppress(RequestAborted):
                        task.result()
                else:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            try:
                response: HttpResponseBase | None = serving.result()
            except asyncio.CancelledError:
                response = None
            await request_signals.finished(self.__class__, response)
        finally:
            body_file.close()

    async def _serve(self, request: HttpRequest, send: Any) -> HttpResponseBase:
        response = await self.run_get_response(request)
        with contextlib.suppress(asyncio.CancelledError):  # the client left while it was sent
            await self.send_response(response, send)
        return response

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        """The match :class:`StepRouter` found for the request's path, instead of resolving the
        path again. Shared by the requests of a path: a step's view (django-ninja's) only reads
        it, and a step's handler never sees the Django request."""
        match: ResolverMatch | None = getattr(request, "scope", {}).get(RESOLVER_MATCH)
        if match is None:
            return super().resolve_request(request)
        request.resolver_match = match
        return match

    async def read_body(self, receive: Any) -> Any:
        """Django's, stopping at the size limit (a chunked body has no Content-Length)."""
        limit = max_body_bytes()
        body_file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - returned open, as Django does
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b"
        )
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body_file.close()
                raise RequestAborted()
            chunk = message.get("body", b"")
            size += len(chunk)
            if limit is not None and size > limit:
                body_file.close()
                raise BodyTooLarge()
            body_file.write(chunk)
            if not message.get("more_body", False):
                break
        body_file.seek(0)
        return body_file


class Route(Enum):
    """What serves a request's path."""

    PAGE = "page"  # Django's handler, with the project's middleware
    STEP = "step"  # a step route
    HEALTH = "health"  # the health check: served as step routes are, whatever the Host
    NO_STEP = "no step"  # under a step route's literal path, but matching no route: 404


def route_of(path: str) -> Route:
    """What serves ``path`` (a request's path info)."""
    return routed(path)[0]


def routed(path: str) -> tuple[Route, ResolverMatch | None]:
    """What serves ``path``, and its URL pattern's match when it is a step's (or the health
    check's): remembered for the paths seen most, so that a step request is resolved once, not
    again by Django's handler."""
    resolver = get_resolver()
    if len(path) > MAX_REMEMBERED_PATH:  # long paths are rare: not worth remembering
        return _routed(resolver, path)
    return _remembered(resolver, path)


def _routed(resolver: URLResolver, path: str) -> tuple[Route, ResolverMatch | None]:
    try:
        match = resolver.resolve(path)
    except Resolver404:
        if _under_step_route(resolver, path) and not _page_with_slash(resolver, path):
            return Route.NO_STEP, None
        return Route.PAGE, None
    if match.url_name == HEALTH_URL_NAME:
        return Route.HEALTH, match
    return (Route.STEP, match) if _is_step_name(match.url_name) else (Route.PAGE, None)


def _is_step_name(url_name: str | None) -> bool:
    return (url_name or "").startswith(STEP_URL_NAME_PREFIX)


# Remembered per resolver: the URLconf's resolver changes when the URLconf does.
_remembered = lru_cache(maxsize=1024)(_routed)


def _under_step_route(resolver: URLResolver, path: str) -> bool:
    """Whether ``path`` is, or is under, the literal start of a step route: ``/todos``,
    ``/todos/`` and ``/todos//complete`` are, for ``/todos/<id>/complete``."""
    return any(path == p or path.startswith(f"{p}/") for p in _step_route_prefixes(resolver))


def _page_with_slash(resolver: URLResolver, path: str) -> bool:
    """Whether ``path`` is a page's without its final slash, which Django's
    ``CommonMiddleware`` redirects to (``APPEND_SLASH``)."""
    if not settings.APPEND_SLASH or path.endswith("/"):
        return False
    try:
        resolver.resolve(f"{path}/")
    except Resolver404:
        return False
    return True


@lru_cache(maxsize=8)
def _step_route_prefixes(resolver: URLResolver) -> frozenset[str]:
    """The literal starts of the step routes, up to their first parameter (``/todos`` of
    ``todos/<id>/complete``); a route that starts with a parameter claims no path."""
    prefixes = set()
    for route in _step_routes(resolver.url_patterns, ""):
        literal = route.split("<", 1)[0]
        if "<" in route:  # a segment that holds a parameter is not literal
            literal = literal.rpartition("/")[0]
        literal = literal.strip("/")
        if literal:
            prefixes.add(f"/{literal}")
    return frozenset(prefixes)


def _step_routes(patterns: Iterable[Any], prefix: str) -> Iterator[str]:
    """The routes (``todos/<id>/complete``) of the step URL patterns among ``patterns``, with
    those of the ``include()`` they are in: path() routes only."""
    for pattern in patterns:
        if not isinstance(pattern.pattern, RoutePattern):
            continue
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _step_routes(pattern.url_patterns, route)
        elif _is_step_name(pattern.name) and pattern.name != HEALTH_URL_NAME:
            yield route


class StepRouter:
    """ASGI app: HTTP requests for step routes go to :class:`StepHandler`, the rest to
    ``application`` (Django's handler).

    What Django's middleware would check for them is checked here: the ``Host`` must be one of
    ``ALLOWED_HOSTS`` (:mod:`streams.sockets.hosts`; not for the health check, which load balancers
    call by address), else 400. A path under a step route's literal start that matches no route
    (``/todos/``, ``/todos//complete``) is a JSON 404, as the API's other errors are."""

    def __init__(self, application: Any) -> None:
        # Built once as the server starts, which runs no system checks (uvicorn): a broken
        # step stops it here, as `manage.py check` would, instead of leaving it unserved.
        require_valid_definitions()
        self.application = application
        self.step_handler = StepHandler()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"].removeprefix(scope.get("root_path", ""))
            route, match = routed(path)
            if route is not Route.PAGE:
                scope[RESOLVER_MATCH] = match
                await self.serve_step(route, path, scope, receive, send)
                return
        await self.application(scope, receive, send)

    async def serve_step(
        self, route: Route, path: str, scope: dict[str, Any], receive: Any, send: Any
    ) -> None:
        if route is not Route.HEALTH:
            problem = refused_host(scope)
            if problem is not None:
                await send_http_error(send, 400, problem)
                return
        if route is Route.NO_STEP:
            await send_http_error(send, 404, f"no step endpoint at {path}")
            return
        await self.step_handler(scope, receive, send)
