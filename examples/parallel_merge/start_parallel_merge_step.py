import asyncio
import time
import uuid
from typing import Any

from pydantic import BaseModel, Field

from steps import StreamKey


class Body(BaseModel):
    traceId: StreamKey = Field(default_factory=lambda: str(uuid.uuid4()))
    totalSteps: int = Field(default=3, ge=1, le=1000)


class Started(BaseModel):
    traceId: str
    totalSteps: int


config = {
    "name": "StartStreamParallelMerge",
    "description": "Start a parallel merge: set up its progress item and enqueue the work.",
    "triggers": [
        {
            "type": "http",
            "method": "POST",
            "path": "/stream-parallel-merge",
            "body_schema": Body,
            "response_schema": {200: Started},
        }
    ],
    "enqueues": ["step.process"],
    "flows": ["stream-parallel-merge"],
}


async def handler(request: Any, ctx: Any) -> dict[str, Any]:
    trace_id, total_steps = request.body.traceId, request.body.totalSteps
    ctx.logger.info(
        "Starting stream parallel merge", {"traceId": trace_id, "totalSteps": total_steps}
    )
    # Initialize stream state
    await ctx.streams.parallelMerge.set(
        "merge-groups",
        trace_id,
        {"totalSteps": total_steps, "startedAt": time.time() * 1000, "completedSteps": 0},
    )
    # Enqueue parallel work
    await asyncio.gather(
        *(
            ctx.enqueue(
                {"topic": "step.process", "data": {"traceId": trace_id, "stepIndex": index}}
            )
            for index in range(total_steps)
        )
    )
    return {"status": 200, "body": {"traceId": trace_id, "totalSteps": total_steps}}
