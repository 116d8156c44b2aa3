"""Motia 1.0.4 style state: a plain handler writes with stateManager; values are any JSON."""

from motia import http, stateManager

config = {
    "name": "SetProfile",
    "triggers": [http("PUT", "/profiles/:id")],
    "flows": ["people"],
}


def handler(request):
    previous = stateManager.get("profiles", request.path_params["id"])
    result = stateManager.set("profiles", request.path_params["id"], request.body)
    return {"status": 200, "body": {"previous": previous, "result": result}}
