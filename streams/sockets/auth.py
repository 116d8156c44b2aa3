"""Who is connecting: the Django session user, and the ``authenticate_stream`` check.

``STREAMS_AUTHENTICATE`` names ``authenticate_stream(request, ctx)``, which returns
``{"unauthorized": bool, "context": ...}``. A refusal, an exception or a malformed result
refuses the connection (fail closed); ``context`` is handed to ``on_join``/``on_leave``.

:func:`session_user` is the Django user of a session cookie, read from the database only when
the cookie is there: the consumer puts it in the socket's scope (hooks see it as ``ctx.user``),
as Channels' ``AuthMiddlewareStack`` would without wrapping every frame the socket sends, and
step endpoints give it to handlers.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from django.utils.module_loading import import_string

from ..conf import engine_settings
from ..runtime import db
from .context import StreamContext, call_hook

logger = logging.getLogger("streams.auth")


@dataclass
class StreamAuthRequest:
    """What ``authenticate_stream`` sees of the handshake."""

    headers: dict[str, str]
    query: dict[str, str]
    path: str
    client: tuple[str, int] | None
    subprotocols: list[str]
    user: Any = None
    scope: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_scope(cls, scope: Mapping[str, Any]) -> "StreamAuthRequest":
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        query_string = scope.get("query_string", b"").decode("latin-1")
        client = scope.get("client")
        return cls(
            headers=headers,
            query=dict(parse_qsl(query_string)),
            path=scope.get("path", ""),
            client=tuple(client) if client else None,
            subprotocols=list(scope.get("subprotocols", [])),
            user=scope.get("user"),
            scope=dict(scope),
        )


@dataclass(frozen=True)
class AuthResult:
    authorized: bool
    context: Any = None


async def authenticate(scope: Mapping[str, Any]) -> AuthResult:
    """Run the configured ``authenticate_stream`` on a handshake."""
    path = engine_settings.STREAMS_AUTHENTICATE
    if not path:
        return AuthResult(authorized=True)
    request = StreamAuthRequest.from_scope(scope)
    ctx = StreamContext(user=request.user)
    try:
        result = await call_hook(import_string(path), request, ctx)
    except Exception:
        logger.exception("authenticate_stream raised; connection refused")
        return AuthResult(authorized=False)
    if not isinstance(result, Mapping):
        logger.error("authenticate_stream returned %r, not a dict; connection refused", result)
        return AuthResult(authorized=False)
    if result.get("unauthorized", False):
        return AuthResult(authorized=False)
    return AuthResult(authorized=True, context=result.get("context"))


# --- the session user -------------------------------------------------------------------------


def user_from_session(session_key: str) -> Any:
    """The user a session belongs to, or an AnonymousUser (reads the database)."""
    request = HttpRequest()  # get_user reads the session alone
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return auth.get_user(request)


async def session_user(cookies: Mapping[str, str]) -> Any:
    """The user of the session cookie among ``cookies``; no database read without one."""
    session_key = cookies.get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return AnonymousUser()
    return await db.run(user_from_session, session_key)


def scope_header(scope: Mapping[str, Any], name: bytes) -> str | None:
    """The value of the header ``name`` (lowercase, as ASGI gives names) of a request or
    handshake, None without one."""
    header: bytes
    value: bytes
    for header, value in scope.get("headers", ()):
        if header == name:
            return value.decode("latin-1")
    return None


def scope_cookies(scope: Mapping[str, Any]) -> dict[str, str]:
    cookie = scope_header(scope, b"cookie")
    return parse_cookie(cookie) if cookie is not None else {}
