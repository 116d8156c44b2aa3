"""WebSocket URL routes: the stream socket at ``/`` (as Motia serves it) and ``/streams/``;
a handshake to any other path is refused."""

from typing import Any

import orjson
from django.urls import path, re_path

from .consumers import StreamConsumer

NO_ROUTE_BODY = orjson.dumps({"detail": "no stream socket at this path: connect to / or /streams/"})


async def no_route(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Refuse a handshake to a path no socket is served at: 404 with a JSON body where the
    server can answer a handshake with a response (ASGI's WebSocket Denial Response, uvicorn),
    otherwise a refusal, which the server answers with 403 (daphne)."""
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        headers = [(b"content-type", b"application/json")]
        await send({"type": "websocket.http.response.start", "status": 404, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": NO_ROUTE_BODY})
    else:
        await send({"type": "websocket.close"})


# Channels routes ASGI applications with Django's path(), whose stubs take views only.
websocket_urlpatterns = [
    path("", StreamConsumer.as_asgi()),  # type: ignore[arg-type]
    path("streams/", StreamConsumer.as_asgi()),  # type: ignore[arg-type]
    re_path(r"", no_route),  # type: ignore[arg-type]
]
