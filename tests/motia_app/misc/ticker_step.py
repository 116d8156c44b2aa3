"""A streamed answer (Server-Sent Events) to a form-encoded request, as Motia's SSE example
writes one: it sends a first event, waits until told to go on (state written through another
step), then a second one."""

import asyncio
from urllib.parse import parse_qsl

from motia import MotiaHttpArgs, http, stateManager

config = {"name": "Ticker", "triggers": [http("POST", "/ticker"), http("POST", "/ticker/go")]}


async def handler(args: MotiaHttpArgs, ctx) -> None:
    if ctx.trigger.path == "/ticker/go":
        await stateManager.set("ticker", "go", True)
        return {"status": 204}
    form = dict(
        parse_qsl(b"".join([chunk async for chunk in args.request.request_body.stream]).decode())
    )
    response = args.response
    await response.status(200)
    await response.headers({"content-type": "text/event-stream", "cache-control": "no-cache"})
    response.writer.stream.write(f"event: first\ndata: {form.get('name')}\n\n".encode())
    for _ in range(400):
        if await stateManager.get("ticker", "go"):
            break
        await asyncio.sleep(0.05)
    response.writer.stream.write(b"event: second\ndata: done\n\n")
    response.close()
