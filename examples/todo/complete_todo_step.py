from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from steps import ErrorBody


class Success(BaseModel):
    success: bool


config = {
    "name": "CompleteTodo",
    "description": "Mark a todo completed with two atomic update ops.",
    "triggers": [
        {
            "type": "http",
            "method": "PATCH",
            "path": "/todos/:id/complete",
            "response_schema": {200: Success, 404: ErrorBody},
        }
    ],
    "flows": ["todo"],
}


async def handler(request: Any, ctx: Any) -> dict[str, Any]:
    todo_id = request.params["id"]
    if await ctx.streams.todo.get("todos", todo_id) is None:
        return {"status": 404, "body": {"detail": f"no todo {todo_id!r}"}}
    # Atomic update - broadcasts to subscribers
    await ctx.streams.todo.update(
        "todos",
        todo_id,
        [
            {"type": "set", "path": "completedAt", "value": datetime.now(UTC).isoformat()},
            {"type": "merge", "path": "metadata", "value": {"completedBy": "user-123"}},
        ],
    )
    return {"status": 200, "body": {"success": True}}
