"""``GET /greetings/summary``: a static segment, which wins over ``/greetings/:name``."""

from typing import Any

config = {
    "name": "GreetingsSummary",
    "triggers": [{"type": "http", "method": "GET", "path": "/greetings/summary"}],
}


async def handler(request: Any, ctx: Any) -> dict[str, Any]:
    return {"status": 200, "body": {"summary": True}}
