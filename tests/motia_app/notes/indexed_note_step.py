"""Fed by ctx.enqueue: a plain handler that takes its input only, writes with plain calls."""

from motia import queue, stateManager

config = {"name": "NoteIndexed", "triggers": [queue("note.indexed")]}


def handler(input):
    stateManager.set("indexed", input["id"], True)
