"""Serving step endpoints: Django's request handling, without a thread per request.

Django's ASGI handler gives each request a thread of its own for sync code (asgiref's
``ThreadSensitiveContext``) and runs each sync-only middleware there, one thread hop per
middleware method. Starting and joining that thread costs about half of a bare async view's
time, and the hops of the stock middleware (sessions, CSRF, messages, ...) cut it to a third.

Step endpoints need neither: their handlers run on the event loop or on the engine's database
threads (:mod:`streams.db`). So :class:`StepRouter` hands requests for step routes to
:class:`StepHandler`, which is Django's ASGI handler serving them on the event loop alone and
without middleware (the ``request_started``/``request_finished`` signals are still sent); every
other request (pages, the admin, the API docs) goes to Django's handler as usual. Concerns an
API needs across endpoints (CORS, rate limits) belong in ASGI middleware around the whole app.
"""

from functools import lru_cache
from typing import Any

from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.urls import Resolver404, URLResolver, get_resolver

# URL names of step routes start with this (see steps.http.build_api).
STEP_URL_NAME_PREFIX = "step-"
# Whether a path is a step route is remembered for paths up to this long.
MAX_REMEMBERED_PATH = 200


class StepHandler(ASGIHandler):
    """Django's ASGI handler for step routes: no middleware, no thread per request."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response_async)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.handle(scope, receive, send)


def is_step_route(path: str) -> bool:
    """Whether ``path`` (a request's path info) is served by a step's http trigger."""
    resolver = get_resolver()
    if len(path) > MAX_REMEMBERED_PATH:  # long paths are rare: not worth remembering
        return _resolves_to_step(resolver, path)
    return _remembered(resolver, path)


def _resolves_to_step(resolver: URLResolver, path: str) -> bool:
    try:
        match = resolver.resolve(path)
    except Resolver404:
        return False
    return (match.url_name or "").startswith(STEP_URL_NAME_PREFIX)


# Remembered per resolver: the URLconf's resolver changes when the URLconf does.
_remembered = lru_cache(maxsize=1024)(_resolves_to_step)


class StepRouter:
    """ASGI app: HTTP requests for step routes go to :class:`StepHandler`, the rest to
    ``application`` (Django's handler)."""

    def __init__(self, application: Any) -> None:
        self.application = application
        self.step_handler = StepHandler()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"].removeprefix(scope.get("root_path", ""))
            if is_step_route(path):
                await self.step_handler(scope, receive, send)
                return
        await self.application(scope, receive, send)
