"""The advice of Motia's streaming guide, "use atomic updates": concurrent increments never
lose a count."""

from typing import Any

from pydantic import BaseModel, Field

from .counter_stream import Counter


class Increment(BaseModel):
    # Bounded, so that a count stays far within the 64-bit integers JSON items may hold.
    by: int = Field(default=1, ge=-1_000_000, le=1_000_000)


config = {
    "name": "IncrementCounter",
    "description": "Increment a counter of the global group atomically.",
    "triggers": [
        {
            "type": "http",
            "method": "POST",
            "path": "/counters/:id/increment",
            "body_schema": Increment,
            "response_schema": {200: Counter},
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
