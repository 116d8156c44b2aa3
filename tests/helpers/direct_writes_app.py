"""An ASGI app that writes frames through the engine's SocketWriter, to see, under a given
server, which way the writer reaches the socket (tests/test_direct_writes.py).

A socket is accepted, then told in one frame which direct writes the engine found for it
(the class's name, or ``send`` when it goes through the server's send), then gets
``FRAMES`` numbered frames of growing size written by a SocketWriter (every tenth one the same
message, as the hub shares one between sockets) and ``done``, or why the writer gave up. HTTP
requests get 200, so that a test sees the server is up.
"""

import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "motia_site.settings")
django.setup()

from streams.sockets.framing import TextMessage  # noqa: E402
from streams.sockets.transports import direct_writes  # noqa: E402
from streams.sockets.writer import SocketWriter  # noqa: E402

FRAMES = 300
SHARED = TextMessage("shared " + "s" * 70_000)  # framed with a 64-bit length


def shared(n: int) -> bool:
    return n % 10 == 9


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"up"})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    closed: list[tuple[int, str]] = []
    writer = SocketWriter(send, lambda code, reason: closed.append((code, reason)))
    direct = direct_writes(send)
    writer.write({"type": "websocket.send", "text": type(direct).__name__ if direct else "send"})
    for n in range(FRAMES):
        writer.write(SHARED if shared(n) else {"type": "websocket.send", "text": f"{n} " + "x" * n})
    await writer.drained(0)
    await send({"type": "websocket.send", "text": f"gave up: {closed}" if closed else "done"})
    while (await receive())["type"] != "websocket.disconnect":
        pass
    writer.stop()
