import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from steps import StoredText

from .todo_stream import Todo


class Body(BaseModel):
    description: StoredText
    dueDate: StoredText | None = None


class Created(BaseModel):
    todo: Todo


config = {
    "name": "CreateTodo",
    "description": "Create a todo and broadcast it to every subscriber of the todos group.",
    "triggers": [
        {
            "type": "http",
            "method": "POST",
            "path": "/todos",
            "body_schema": Body,
            "response_schema": {201: Created},
        }
    ],
    "flows": ["todo"],
}


async def handler(request: Any, ctx: Any) -> dict[str, Any]:
    todo = {
        "id": str(uuid.uuid4()),
        "description": request.body.description,
        "createdAt": datetime.now(UTC).isoformat(),
    }
    if request.body.dueDate is not None:
        todo["dueDate"] = request.body.dueDate
    # Set stream item - broadcasts to all subscribers
    await ctx.streams.todo.set("todos", todo["id"], todo)
    ctx.logger.info("Todo created and broadcast", {"todoId": todo["id"]})
    return {"status": 201, "body": {"todo": todo}}
