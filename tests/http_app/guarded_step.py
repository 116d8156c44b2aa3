"""``POST /guarded``: an async ``condition(request, ctx)`` decides whether the handler runs."""

from typing import Any


async def allowed(request: Any, ctx: Any) -> bool:
    body = request.body or {}
    if body.get("explode"):
        raise RuntimeError("the condition failed")
    return body.get("allow") is True and ctx.trigger.path == "/guarded"


config = {
    "name": "Guarded",
    "triggers": [{"type": "http", "method": "POST", "path": "/guarded", "condition": allowed}],
}


async def handler(request: Any, ctx: Any) -> dict[str, Any]:
    ctx.logger.info("handled")
    return {"status": 200, "body": {"ran": True}}
