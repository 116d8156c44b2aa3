"""A queue step (its input a pydantic model), fed by the module-level enqueue of CreateNote;
it counts notes in the state with Motia's update ops and enqueues through ctx (1.0.1 style)."""

from motia import FlowContext, queue, stateManager
from pydantic import BaseModel


class Created(BaseModel):
    group: str
    id: str


config = {
    "name": "IndexNote",
    "triggers": [queue("note.created", input=Created, config={"maxRetries": 1})],
    "enqueues": ["note.indexed", "nobody.listens"],
}


async def handler(input: Created, ctx: FlowContext) -> None:
    await stateManager.update(
        "counters",
        input.group,
        [
            {"type": "increment", "path": "stats.notes", "by": 1},
            {"type": "append", "path": ["log", "ids"], "value": input.id},
        ],
    )
    note = await ctx.streams["notes"].get(input.group, input.id)
    await ctx.enqueue(
        {"topic": "note.indexed", "data": {"id": input.id, "chars": len(note["text"])}}
    )
    await ctx.enqueue({"topic": "nobody.listens", "data": {}})
    ctx.logger.info("note indexed", {"id": input.id})
