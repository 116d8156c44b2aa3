"""A static path beside ``/notes/:id``: it wins whatever the order the files are found in."""

from motia import Stream, http

config = {"name": "RecentNotes", "triggers": [http("GET", "/notes/recent")]}


def handler(request, ctx):
    items = Stream("notes").get_group("board")
    return {"status": 200, "body": {"recent": [item["text"] for item in items]}}
