"""The example todo endpoints, called over real HTTP by the end-to-end tests, and what a
completed todo holds."""

import asyncio
from typing import Any

import httpx


async def create_todo(http: httpx.AsyncClient, description: str) -> dict[str, Any]:
    response = await http.post("/todos", json={"description": description})
    assert response.status_code == 201, response.text
    return response.json()["todo"]


async def create_large_todos(url: str, count: int, size: int, timeout: float) -> list[str]:
    """``count`` todos whose descriptions hold ``size`` bytes and more (``"0042 xxx..."``),
    eight requests at a time; their ids."""
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as http:
        slots = asyncio.Semaphore(8)

        async def create(n: int) -> str:
            async with slots:
                todo = await create_todo(http, f"{n:04} " + "x" * size)
                return str(todo["id"])

        return list(await asyncio.gather(*(create(n) for n in range(count))))


async def complete_todo(http: httpx.AsyncClient, todo_id: str) -> None:
    response = await http.patch(f"/todos/{todo_id}/complete")
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}


async def delete_todo(http: httpx.AsyncClient, todo_id: str) -> None:
    response = await http.delete(f"/todos/{todo_id}")
    assert response.status_code == 204, response.text


def completed(todo: dict[str, Any] | None) -> bool:
    """Whether a todo carries what PATCH /todos/<id>/complete writes."""
    return (
        todo is not None
        and bool(todo.get("completedAt"))
        and todo.get("metadata") == {"completedBy": "user-123"}
    )
