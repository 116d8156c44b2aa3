"""``POST /json-notes``: a body validated by a JSON-schema dict, answered with ``status_code``
as Motia's handlers may write it."""

from typing import Any

NOTE = {
    "title": "Note",
    "type": "object",
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "tags": {"type": "array", "items": {"type": "string"}},
        "priority": {"type": "integer", "minimum": 1},
    },
    "required": ["text", "priority"],
}

config = {
    "name": "CreateJsonNote",
    "triggers": [{"type": "http", "method": "POST", "path": "/json-notes", "bodySchema": NOTE}],
}


async def handler(request: Any, ctx: Any) -> dict[str, Any]:
    body = request.body
    return {"status_code": 201, "body": {"received": body, "kind": type(body).__name__}}
