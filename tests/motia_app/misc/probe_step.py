"""What the tests read back: a state value, or a stream item, as JSON (None: none)."""

from motia import Stream, http, stateManager

config = {
    "name": "Probe",
    "triggers": [
        http("GET", "/probe/state/:scope/:key"),
        http("GET", "/probe/stream/:stream/:group/:id"),
    ],
}


def handler(request, ctx):
    params = request.path_params
    if "scope" in params:
        value = stateManager.get(params["scope"], params["key"])
    else:
        value = Stream(params["stream"]).get(params["group"], params["id"])
    return {"status": 200, "body": {"value": value}}
