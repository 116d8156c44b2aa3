"""Refusing a request or a WebSocket handshake at the ASGI level, before any view or consumer
runs, with the engine's JSON error body ``{"detail": "..."}`` naming the problem."""

from collections.abc import Iterable
from typing import Any

import orjson


def error_body(detail: str) -> bytes:
    return orjson.dumps({"detail": detail})


async def send_http_error(
    send: Any, status: int, detail: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Answer an HTTP request with a JSON error, its body left unread."""
    body = error_body(detail)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def refuse_handshake(
    scope: dict[str, Any], receive: Any, send: Any, status: int, detail: str
) -> None:
    """Refuse a WebSocket handshake: ``status`` with a JSON body where the server can answer a
    handshake with a response (ASGI's WebSocket Denial Response: uvicorn), otherwise a plain
    refusal, which the server answers with 403 (daphne)."""
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        headers = [(b"content-type", b"application/json")]
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": error_body(detail)})
    else:
        await send({"type": "websocket.close"})
