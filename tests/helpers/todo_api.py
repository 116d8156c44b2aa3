"""The seed's todo endpoints, called over real HTTP by the end-to-end tests."""

from typing import Any

import httpx


async def create_todo(http: httpx.AsyncClient, description: str) -> dict[str, Any]:
    response = await http.post("/todos", json={"description": description})
    assert response.status_code == 201, response.text
    return response.json()["todo"]


async def complete_todo(http: httpx.AsyncClient, todo_id: str) -> None:
    response = await http.patch(f"/todos/{todo_id}/complete")
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}


async def delete_todo(http: httpx.AsyncClient, todo_id: str) -> None:
    response = await http.delete(f"/todos/{todo_id}")
    assert response.status_code == 204, response.text
