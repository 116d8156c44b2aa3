"""``GET /greetings/:name``: found before ``/greetings/summary`` (file names sort so)."""

from typing import Any

config = {
    "name": "GreetingByName",
    "triggers": [{"type": "http", "method": "GET", "path": "/greetings/:name"}],
}


async def handler(request: Any, ctx: Any) -> dict[str, Any]:
    return {"status": 200, "body": {"greeting": f"hello {request.path_params['name']}"}}
