"""The floor of the ASGI server: a raw ASGI app (no Django) under our uvicorn command line.

- ``POST /todos`` reads ``{"description": ...}``, builds a create frame of the shape our server
  sends (an id, the description, a timestamp) and sends it to every socket that joined
  ``todo``/``todos``, then answers 201 ``{"todo": {...}}`` (latency.py).
- Any other ``POST`` answers 201 ``{"ok": true}`` without touching anything (writes.py's "raw
  server" row); any other request answers 200.
- A WebSocket is accepted; a join frame is answered with a sync frame (no items: nothing is
  stored) and subscribes the socket to that group until it disconnects (joins.py).

Served by ``python -m uvicorn rawapp:app`` from bench/. Every benchmark uses the same module,
so "raw" means the same thing everywhere.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# The sockets subscribed to each (stream, group), by their ASGI send callable.
groups: dict[tuple[str, str], set[Send]] = {}


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    kind = scope["type"]
    if kind == "http":
        await http(scope, receive, send)
    elif kind == "websocket":
        await websocket(receive, send)
    elif kind == "lifespan":
        await lifespan(receive, send)


# --- HTTP ----------------------------------------------------------------------------------------


async def http(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    body = await read_body(receive)
    if scope["method"] != "POST":
        status, payload = 200, b'{"ok":true}'
    elif scope["path"] == "/todos":
        status, payload = 201, await create_todo(body)
    else:
        status, payload = 201, b'{"ok":true}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def create_todo(body: bytes) -> bytes:
    """A create frame like ours, sent to every subscriber of todo/todos; the answer's body."""
    description = str(orjson.loads(body).get("description", ""))
    item_id = str(uuid.uuid4())
    todo = {"id": item_id, "description": description, "createdAt": datetime.now(UTC).isoformat()}
    frame = {
        "type": "stream",
        "timestamp": int(time.time() * 1000),
        "streamName": "todo",
        "groupId": "todos",
        "id": item_id,
        "event": {"type": "create", "data": todo},
    }
    text = orjson.dumps(frame).decode()
    for send in list(groups.get(("todo", "todos"), ())):
        try:
            await send({"type": "websocket.send", "text": text})
        except Exception:  # a socket closing right now: it leaves the group itself
            continue
    return orjson.dumps({"todo": todo})


# --- WebSocket -----------------------------------------------------------------------------------


async def websocket(receive: Receive, send: Send) -> None:
    joined: list[tuple[str, str]] = []
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
            elif message["type"] == "websocket.receive":
                key = await answer_join(message.get("text") or message.get("bytes") or b"", send)
                if key is not None:
                    joined.append(key)
            else:  # websocket.disconnect
                return
    finally:
        for key in joined:
            groups.get(key, set()).discard(send)


async def answer_join(raw: str | bytes, send: Send) -> tuple[str, str] | None:
    """Answer a join with a sync frame and subscribe the socket; None for other frames."""
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(message, dict) or message.get("type") != "join":
        return None
    data = message.get("data") or {}
    key = (str(data.get("streamName")), str(data.get("groupId")))
    frame = {
        "type": "stream",
        "timestamp": int(time.time() * 1000),
        "streamName": key[0],
        "groupId": key[1],
        "id": None,
        "event": {"type": "sync", "data": []},
    }
    await send({"type": "websocket.send", "text": orjson.dumps(frame).decode()})
    groups.setdefault(key, set()).add(send)
    return key


# --- lifespan ------------------------------------------------------------------------------------


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
