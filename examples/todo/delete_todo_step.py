from typing import Any

config = {
    "name": "DeleteTodo",
    "description": "Delete a todo and broadcast its removal.",
    "triggers": [
        {"type": "http", "method": "DELETE", "path": "/todos/:id", "response_schema": {204: None}}
    ],
    "flows": ["todo"],
}


async def handler(request: Any, ctx: Any) -> dict[str, Any]:
    # Delete and broadcast removal
    await ctx.streams.todo.delete("todos", request.params["id"])
    return {"status": 204}
