import time
from typing import Any

from steps import StreamTriggerInput


def all_steps_done(input: StreamTriggerInput) -> bool:
    return (
        input.event.type == "update"
        and input.event.data["completedSteps"] == input.event.data["totalSteps"]
    )


config = {
    "name": "StreamMergeComplete",
    "description": "Runs once, when the last parallel step of a merge has completed.",
    "triggers": [
        {
            "type": "stream",
            "stream_name": "parallelMerge",
            "group_id": "merge-groups",
            "condition": all_steps_done,
        }
    ],
    "flows": ["stream-parallel-merge"],
}


async def handler(input: StreamTriggerInput, ctx: Any) -> None:
    result = input.event.data
    duration = time.time() * 1000 - result["startedAt"]
    ctx.logger.info(
        "Parallel merge completed",
        {"traceId": input.id, "totalSteps": result["totalSteps"], "duration": duration},
    )
