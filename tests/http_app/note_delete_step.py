"""``DELETE /notes/:id``: the shape of ``GET /notes/:noteId``, its parameter named otherwise."""

from typing import Any

config = {
    "name": "DeleteNote",
    "triggers": [{"type": "http", "method": "DELETE", "path": "/notes/:id"}],
}


async def handler(request: Any, ctx: Any) -> dict[str, Any]:
    return {"status": 200, "body": {"deleted": request.path_params}}
