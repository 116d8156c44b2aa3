import time
from typing import Any

from pydantic import BaseModel

from steps import StreamKey


class Body(BaseModel):
    groupId: StreamKey
    message: str


class Sent(BaseModel):
    success: bool


config = {
    "name": "SendCustomEvent",
    "description": "Send a custom event to every subscriber of a notifications group.",
    "triggers": [
        {
            "type": "http",
            "method": "POST",
            "path": "/notify",
            "body_schema": Body,
            "response_schema": {200: Sent},
        }
    ],
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
