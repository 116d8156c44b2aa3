"""Motia 1.0.0-1.0.3 style: an async handler that awaits the Stream and enqueue."""

import uuid

from motia import ApiRequest, ApiResponse, FlowContext, Stream, enqueue, http, logger

notes = Stream("notes")

config = {
    "name": "CreateNote",
    "description": "Adds a note",
    "flows": ["notes"],
    "triggers": [
        http(
            "POST",
            "/notes",
            body_schema={
                "type": "object",
                "properties": {"text": {"type": "string"}, "group": {"type": "string"}},
                "required": ["text"],
            },
        )
    ],
    "enqueues": ["note.created"],
}


async def handler(request: ApiRequest, ctx: FlowContext) -> ApiResponse:
    body = request.body
    note = {"id": body.get("id") or str(uuid.uuid4()), "text": body["text"]}
    group = body.get("group", "board")
    await notes.set(group, note["id"], note)
    await enqueue({"topic": "note.created", "data": {"group": group, "id": note["id"]}})
    logger.info("note created", {"id": note["id"], "trace": ctx.trace_id})
    return ApiResponse(status=201, body=note, headers={"X-Note-Id": note["id"]})
