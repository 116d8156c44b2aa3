config = {
    "name": "CountNotes",
    "triggers": [{"type": "stream", "streamName": "note", "groupId": "all"}],
}


async def handler(change, ctx):
    if change.event.type == "create":
        ops = [{"type": "increment", "path": "notes", "by": 1}]
        await ctx.streams.note_count.update("totals", "all", ops)
