"""``GET /notes/:noteId``."""

from typing import Any

config = {
    "name": "ReadNote",
    "triggers": [{"type": "http", "method": "GET", "path": "/notes/:noteId"}],
}


def handler(request: Any, ctx: Any) -> dict[str, Any]:
    return {"status": 200, "body": {"read": request.path_params}}
