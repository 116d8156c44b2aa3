"""Which web pages may open a stream socket: the ``Origin`` check of the handshake.

A browser sends the page's cookies with a WebSocket handshake to any site, and the session
user reaches ``authenticate_stream`` and ``on_join``: without a check, a page on another site
could open a socket as the visitor (cross-site WebSocket hijacking). Browsers always send the
page's ``Origin``; so a handshake with an ``Origin`` is accepted only when its host is one of
``ALLOWED_HOSTS`` (as Django checks the ``Host`` header) or the origin is listed in
``STREAMS_ALLOWED_ORIGINS``. Clients that are not browsers (Motia's Node client, the Python
client) send no ``Origin`` and carry no visitor's cookies: they are let through, and
``authenticate_stream`` decides.
"""

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host

from .auth import scope_header
from .conf import engine_settings

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
    """ASGI middleware for WebSocket routes: refuses a handshake from an origin that is not
    allowed (the server answers it with 403) before any consumer runs."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            origin = scope_header(scope, b"origin")
            allowed = origin_allowed(
                origin, settings.ALLOWED_HOSTS, engine_settings.STREAMS_ALLOWED_ORIGINS
            )
            if not allowed:
                logger.warning("WebSocket from origin %r refused", origin)
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 403})
                return
        await self.application(scope, receive, send)
