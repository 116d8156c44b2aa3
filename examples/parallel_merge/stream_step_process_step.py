import asyncio
from typing import Any

from pydantic import BaseModel


class Input(BaseModel):
    traceId: str
    stepIndex: int


config = {
    "name": "StreamStepProcess",
    "description": "One unit of the parallel work: simulate work, then count it atomically.",
    "triggers": [{"type": "queue", "topic": "step.process", "input": Input}],
    "flows": ["stream-parallel-merge"],
}


async def handler(input: Input, ctx: Any) -> None:
    ctx.logger.info("Processing step", {"traceId": input.traceId, "stepIndex": input.stepIndex})
    # Simulate work
    await asyncio.sleep(1)
    # Atomically increment - broadcasts to subscribers
    await ctx.streams.parallelMerge.update(
        "merge-groups", input.traceId, [{"type": "increment", "path": "completedSteps", "by": 1}]
    )
    ctx.logger.info("Step completed", {"traceId": input.traceId, "stepIndex": input.stepIndex})
