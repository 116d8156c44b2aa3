from typing import Any

from pydantic import BaseModel

from .todo_stream import Todo


class TodoList(BaseModel):
    todos: list[Todo]
    groups: list[str]


config = {
    "name": "ListTodos",
    "description": "List the todos and the todo stream's groups.",
    "triggers": [
        {"type": "http", "method": "GET", "path": "/todos", "response_schema": {200: TodoList}}
    ],
    "flows": ["todo"],
}


async def handler(request: Any, ctx: Any) -> dict[str, Any]:
    # List all items in a group
    todos = await ctx.streams.todo.list("todos")
    # List all groups in a stream
    groups = await ctx.streams.todo.list_groups()
    return {"status": 200, "body": {"todos": todos, "groups": groups}}
