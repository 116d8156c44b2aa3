"""Motia 1.0.4 style: a plain handler taking the request only; Stream calls are plain."""

from motia import ApiRequest, Stream, http

notes = Stream("notes")

NOTE = {"type": "object", "properties": {"id": {"type": "string"}, "text": {"type": "string"}}}

config = {
    "name": "NoteById",
    # Documents the endpoint: a 404 it does not declare is answered as the handler says.
    "triggers": [http("GET", "/notes/:id", response_schema={200: NOTE})],
    "enqueues": [],
}


def handler(request: ApiRequest):
    note = notes.get(request.query_params.get("group", "board"), request.path_params["id"])
    if note is None:
        return {"status_code": 404, "body": {"error": "no such note"}}
    return {"status": 200, "body": note}
