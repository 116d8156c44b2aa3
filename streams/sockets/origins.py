"""Which web pages may open a stream socket: the ``Host`` and ``Origin`` checks of the
handshake, made before any hook runs.

The ``Host`` must be one the site answers to, as for step endpoints (:mod:`streams.sockets.hosts`):
a page that rebinds a name of its own to the server's address (DNS rebinding) sends that name,
and is refused even where ``STREAMS_ALLOWED_ORIGINS`` lets every origin in.

A browser sends the page's cookies with a WebSocket handshake to any site, and the session
user reaches ``authenticate_stream`` and ``on_join``: without a check, a page on another site
could open a socket as the visitor (cross-site WebSocket hijacking). Browsers always send the
page's ``Origin``; so a handshake with an ``Origin`` is accepted only when its host is one of
``ALLOWED_HOSTS`` (as Django checks the ``Host`` header, the local names under ``DEBUG`` when it
is empty included: :func:`streams.sockets.hosts.allowed_hosts`) or the origin is listed in
``STREAMS_ALLOWED_ORIGINS``. Clients that are not browsers (Motia's Node client, the Python
client) send no ``Origin`` and carry no visitor's cookies: they are let through, and
``authenticate_stream`` decides.
"""

import logging
from collections.abc import Coroutine, Iterable
from typing import Any
from urllib.parse import urlsplit

from django.http.request import validate_host

from ..conf import engine_settings
from .auth import scope_header
from .hosts import allowed_hosts, refused_host
from .refusals import refuse_handshake

logger = logging.getLogger("streams.origins")


def origin_allowed(
    origin: str | None, allowed_hosts: Iterable[str], allowed_origins: Iterable[str]
) -> bool:
    """Whether a handshake with ``origin`` (None: no header) may open a socket.

    ``allowed_hosts`` are patterns as in Django's ``ALLOWED_HOSTS`` (``.example.com``, ``*``),
    matched against the origin's host; ``allowed_origins`` are whole origins
    (``https://app.example.com``) or ``*``. The opaque origin ``null`` (sandboxed frames,
    ``file:`` pages) is allowed only by ``*`` in ``allowed_origins``.
    """
    if origin is None:
        return True
    allowed_origins = [o.rstrip("/").lower() for o in allowed_origins]
    if "*" in allowed_origins or origin.rstrip("/").lower() in allowed_origins:
        return True
    try:
        parts = urlsplit(origin)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if ":" in host:  # urlsplit drops an IPv6 literal's brackets; ALLOWED_HOSTS keeps them
        host = f"[{host}]"
    return validate_host(host, list(allowed_hosts))


class OriginCheck:
    """ASGI middleware for WebSocket routes: refuses a handshake for a host the site does not
    answer to (400) or from an origin that is not allowed (403) before any consumer runs.

    The checks need no waiting, so a call makes them and hands back the awaitable of the
    refusal or of the application, instead of awaiting it in a coroutine of its own: that
    one would hold a frame (some 380 bytes) for the life of every socket."""

    _asgi_single_callable = True  # for asgiref: an ASGI 3 application, though not async

    def __init__(self, application: Any) -> None:
        self.application = application

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Coroutine[Any, Any, None]:
        if scope["type"] == "websocket":
            problem = refused_host(scope)
            if problem is not None:
                return refuse_handshake(scope, receive, send, 400, problem)
            origin = scope_header(scope, b"origin")
            hosts = allowed_hosts()
            if not origin_allowed(origin, hosts, engine_settings.STREAMS_ALLOWED_ORIGINS):
                logger.warning("WebSocket from origin %r refused", origin)
                detail = f"origin {origin!r} may not open stream sockets (STREAMS_ALLOWED_ORIGINS)"
                return refuse_handshake(scope, receive, send, 403, detail)
        result: Coroutine[Any, Any, None] = self.application(scope, receive, send)
        return result
