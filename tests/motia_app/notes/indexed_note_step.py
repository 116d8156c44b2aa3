"""Fed by ctx.enqueue, its input a JSON schema: a plain handler that takes its input only and
writes with plain calls."""

from motia import queue, stateManager

INDEXED = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "chars": {"type": "integer"}},
    "required": ["id", "chars"],
}

config = {"name": "NoteIndexed", "triggers": [queue("note.indexed", input=INDEXED)]}


def handler(input):
    stateManager.set("indexed", input["id"], input["chars"])
