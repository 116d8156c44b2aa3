"""A step with two triggers: todo changes (stream) and announcements (queue). Either way it
tells the ``todos`` notifications group what happened."""

from typing import Any

from pydantic import BaseModel

from steps import StreamTriggerInput


class Announcement(BaseModel):
    message: str


config = {
    "name": "AnnounceTodoChange",
    "description": "Tell notification subscribers about todo changes and announcements.",
    "triggers": [
        {"type": "stream", "stream_name": "todo", "group_id": "todos"},
        {"type": "queue", "topic": "todo.announce", "input": Announcement},
    ],
    "flows": ["todo", "notifications"],
}


async def handler(input: StreamTriggerInput | Announcement, ctx: Any) -> None:
    if isinstance(input, StreamTriggerInput):
        data = {"change": input.event.type, "todoId": input.id}
    else:
        data = {"change": "announcement", "message": input.message}
    await ctx.streams.notifications.send({"groupId": "todos"}, {"type": "todo", "data": data})
