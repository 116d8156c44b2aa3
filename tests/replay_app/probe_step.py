"""``POST /replay-probe``: one change of the ``probe`` stream, or one custom event to a group."""

from typing import Any, Literal

from pydantic import BaseModel


class Body(BaseModel):
    groupId: str
    kind: Literal["set", "send"]
    id: str | None = None
    data: dict[str, Any]


config = {
    "name": "ReplayProbe",
    "triggers": [{"type": "http", "method": "POST", "path": "/replay-probe", "body_schema": Body}],
    "flows": ["replay-probe"],
}


async def handler(request: Any, ctx: Any) -> dict[str, Any]:
    """Answers with the event type subscribers get: ``create``, ``update`` or ``event``."""
    body = request.body
    if body.kind == "send":
        await ctx.streams.probe.send(
            {"groupId": body.groupId}, {"type": "probe", "data": body.data}
        )
        return {"status": 200, "body": {"event": "event"}}
    result = await ctx.streams.probe.set(body.groupId, body.id, body.data)
    return {"status": 200, "body": {"event": "create" if result["old_value"] is None else "update"}}
