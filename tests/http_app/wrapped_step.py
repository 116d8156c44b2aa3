"""``GET /wrapped``: two middleware around the handler, the first outermost; the plain one
may answer early."""

from typing import Any


async def outer(request: Any, ctx: Any, next: Any) -> Any:
    request.trail = ["outer"]
    result = await next()
    result["body"]["after"] = "outer"
    result["headers"] = {**(result.get("headers") or {}), "X-Outer": ctx.trace_id}
    return result


def inner(request: Any, ctx: Any, next: Any) -> Any:
    if request.query_params.get("stop") == "1":
        return {"status": 403, "body": {"stopped": "inner"}}
    request.trail.append("inner")
    return next()


config = {
    "name": "Wrapped",
    "triggers": [
        {"type": "http", "method": "GET", "path": "/wrapped", "middleware": [outer, inner]}
    ],
}


async def handler(request: Any, ctx: Any) -> dict[str, Any]:
    request.trail.append("handler")
    return {"status_code": 201, "body": {"trail": request.trail}}
