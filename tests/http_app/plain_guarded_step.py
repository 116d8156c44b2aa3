"""``GET /plain-guarded``: a plain ``condition(request)`` (no ``ctx``) before a plain handler."""

from typing import Any


def allowed(request: Any) -> bool:
    return request.query_params.get("allow") == "1"


config = {
    "name": "PlainGuarded",
    "triggers": [{"type": "http", "method": "GET", "path": "/plain-guarded", "condition": allowed}],
}


def handler(request: Any, ctx: Any) -> dict[str, Any]:
    return {"status": 200, "body": {"ran": True}}
