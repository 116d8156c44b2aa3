"""A stream trigger: each note created runs it, and its condition reads the input as Motia's
examples do (attributes) and as its engine sends it (a dict)."""

from motia import StreamTriggerInput, logger, state_manager, stream


def created(input: StreamTriggerInput, ctx) -> bool:
    return input.event.type == "create" and input["streamName"] == "notes" and ctx.is_stream()


config = {
    "name": "WatchNotes",
    "triggers": [stream("notes", condition=created)],
}


async def handler(input: StreamTriggerInput, ctx) -> None:
    logger.info("note seen", {"id": input.id, "group": input.group_id})
    await state_manager.set("seen", input.id, {"text": input.event.data["text"]})
