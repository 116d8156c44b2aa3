"""WebSocket URL routes: the stream socket at ``/`` (as Motia serves it) and ``/streams/``;
a handshake to any other path is refused."""

from typing import Any

from django.urls import path, re_path

from .sockets import StreamConsumer, refuse_handshake

NO_ROUTE = "no stream socket at this path: connect to / or /streams/"


async def no_route(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Refuse a handshake to a path no socket is served at: 404 with a JSON body (403 under
    daphne, see :func:`~streams.sockets.refusals.refuse_handshake`)."""
    await refuse_handshake(scope, receive, send, 404, NO_ROUTE)


# Channels routes ASGI applications with Django's path(), whose stubs take views only.
websocket_urlpatterns = [
    path("", StreamConsumer.as_asgi()),  # type: ignore[arg-type]
    path("streams/", StreamConsumer.as_asgi()),  # type: ignore[arg-type]
    re_path(r"", no_route),  # type: ignore[arg-type]
]
