import time
from typing import Any

from pydantic import BaseModel


class Body(BaseModel):
    groupId: str
    message: str


config = {
    "name": "SendCustomEvent",
    "description": "Send a custom event to every subscriber of a notifications group.",
    "triggers": [{"type": "http", "method": "POST", "path": "/notify", "body_schema": Body}],
    "flows": ["notifications"],
}


async def handler(request: Any, ctx: Any) -> dict[str, Any]:
    # Send custom event to all subscribers
    await ctx.streams.notifications.send(
        {"groupId": request.body.groupId},
        {
            "type": "custom",
            "data": {"message": request.body.message, "timestamp": int(time.time() * 1000)},
        },
    )
    return {"status": 200, "body": {"success": True}}
