"""The seed's best practice "use atomic updates": concurrent increments never lose a count."""

from typing import Any

from pydantic import BaseModel


class Increment(BaseModel):
    by: int = 1


config = {
    "name": "IncrementCounter",
    "description": "Increment a counter of the global group atomically.",
    "triggers": [
        {
            "type": "http",
            "method": "POST",
            "path": "/counters/:id/increment",
            "body_schema": Increment,
        }
    ],
    "flows": ["counter"],
}


async def handler(request: Any, ctx: Any) -> dict[str, Any]:
    # Atomic updates prevent race conditions and ensure consistency
    result = await ctx.streams.counter.update(
        "global",
        request.params["id"],
        [{"type": "increment", "path": "value", "by": request.body.by}],
    )
    return {"status": 200, "body": result["new_value"]}
