"""``runserver`` as a developer runs it, in a project made as docs/guide.md makes one: step
and stream files added, renamed, deleted, broken and fixed while it runs are served without
a restart by hand (``streams.runtime.reloading``)."""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.guide_project import DevServer, GuideProject
from tests.helpers.passes import embedded_pass_only
from tests.helpers.waiting import eventually

pytestmark = [embedded_pass_only, pytest.mark.timeout(240)]

# Django's reloader looks once a second, and the restarted server needs a moment to start:
# far more than that means it never noticed.
RELOAD_TIMEOUT = 20.0
# What each process that the reloader starts prints first.
STARTED = "Watching for file changes"

NOTE_STREAM = """
    from streams import StreamConfig

    config = StreamConfig(name="note", schema=None)
"""
LIST_NOTES_STEP = """
    config = {
        "name": "ListNotes",
        "triggers": [{"type": "http", "method": "GET", "path": "/notes-list"}],
    }


    async def handler(request, ctx):
        return {"status": 200, "body": {"notes": await ctx.streams.note.list("all")}}
"""
ADD_NOTE_STEP = """
    config = {
        "name": "AddNote",
        "triggers": [{"type": "http", "method": "POST", "path": "/notes"}],
        "enqueues": ["note.added"],
    }


    async def handler(request, ctx):
        await ctx.enqueue({"topic": "note.added", "data": request.body})
        return {"status": 202, "body": {}}
"""
STORE_NOTE_STEP = """
    config = {"name": "StoreNote", "triggers": [{"type": "queue", "topic": "note.added"}]}


    async def handler(input, ctx):
        await ctx.streams.note.set("all", input["id"], input)
"""
# A step module the registry cannot take: the system check says why.
BROKEN_STEP = """
    config = {"name": "Broken", "triggers": [{"type": "http", "method": "GET", "path": "/ok"}]}
"""
FIXED_STEP = (
    BROKEN_STEP
    + """

    async def handler(request, ctx):
        return {"status": 200, "body": {"fixed": True}}
"""
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> GuideProject:
    return GuideProject(tmp_path_factory.mktemp("guide"))


@pytest.fixture
def server(project: GuideProject) -> Iterator[DevServer]:
    with DevServer(project) as server:
        yield server


def status(server: DevServer, path: str) -> int | None:
    response = server.get(path)
    return None if response is None else response.status_code


def wait_for_status(server: DevServer, path: str, expected: int) -> float:
    """Seconds until ``GET path`` answers ``expected``."""
    began = time.monotonic()
    eventually(
        lambda: status(server, path) == expected,
        lambda: f"GET {path} to answer {expected} (last: {status(server, path)}):\n{server.log()}",
        RELOAD_TIMEOUT,
        interval=0.05,
    )
    return time.monotonic() - began


def post_note(server: DevServer, note: dict[str, str]) -> int | None:
    try:
        return httpx.post(f"{server.url}/notes", json=note, timeout=2).status_code
    except httpx.TransportError:
        return None


def notes(server: DevServer) -> dict[str, object]:
    response = server.get("/notes-list")
    return response.json()["notes"] if response is not None and response.is_success else {}


def test_new_renamed_and_deleted_step_and_stream_files_are_served(
    project: GuideProject, server: DevServer
) -> None:
    app = project.root / "myapp"
    assert status(server, "/notes-list") == 404

    # A new stream and a new step reading it: the route answers, the stream is known.
    project.write("myapp/note_stream.py", NOTE_STREAM)
    project.write("myapp/list_notes_step.py", LIST_NOTES_STEP)
    delay = wait_for_status(server, "/notes-list", 200)
    print(f"new step file served after {delay:.2f} s")
    assert "myapp/list_notes_step.py added" in server.log()

    # A new http step and a new queue step subscribed to what it enqueues: triggers too.
    project.write("myapp/store_note_step.py", STORE_NOTE_STEP)
    project.write("myapp/add_note_step.py", ADD_NOTE_STEP)
    eventually(
        lambda: post_note(server, {"id": "n1", "text": "hi"}) == 202,
        lambda: f"POST /notes to answer 202:\n{server.log()}",
        RELOAD_TIMEOUT,
    )
    eventually(lambda: "n1" in str(notes(server)), "the queue step to store the note", 10)

    # Renamed: served from its new module, by the process started after the rename (the one
    # before still answers while it stops); deleted: gone.
    started = server.log().count(STARTED)
    (app / "list_notes_step.py").rename(app / "all_notes_step.py")
    eventually(lambda: "myapp/all_notes_step.py added" in server.log(), "the rename noticed", 10)
    eventually(lambda: server.log().count(STARTED) > started, "the restart", RELOAD_TIMEOUT)
    wait_for_status(server, "/notes-list", 200)
    (app / "all_notes_step.py").unlink()
    wait_for_status(server, "/notes-list", 404)
    assert "myapp/all_notes_step.py removed" in server.log()


def test_a_broken_step_file_shows_the_check_and_the_server_recovers(
    project: GuideProject, server: DevServer
) -> None:
    broken = project.write("myapp/broken_step.py", BROKEN_STEP)
    eventually(
        lambda: "(steps.E001)" in server.log(),
        lambda: f"the system check's message in the output:\n{server.log()}",
        RELOAD_TIMEOUT,
    )
    assert "myapp.broken_step must define 'config' and 'handler'" in server.log()
    project.write("myapp/broken_step.py", FIXED_STEP)
    wait_for_status(server, "/ok", 200)
    broken.unlink()
    wait_for_status(server, "/ok", 404)


def test_a_file_added_in_a_new_folder_is_served(project: GuideProject, server: DevServer) -> None:
    # Files that define nothing do not restart the server.
    restarts = server.log().count(STARTED)
    project.write("myapp/notes.txt", "not Python\n")
    project.write("myapp/.list_step.py.swp", "an editor's swap file\n")
    (project.root / "myapp" / "__pycache__").mkdir(exist_ok=True)
    time.sleep(3)  # several looks
    assert server.log().count(STARTED) == restarts

    # A new folder does (a step file may come in it next), and then its step files count.
    folder: Path = project.root / "myapp" / "more"
    project.write("myapp/more/__init__.py", "")
    eventually(lambda: "folder myapp/more added" in server.log(), "the new folder noticed", 10)
    wait_for_status(server, "/healthz", 200)
    project.write(
        "myapp/more/ping_step.py",
        """
        config = {"name": "Ping", "triggers": [{"type": "http", "method": "GET", "path": "/ping"}]}


        def handler(request, ctx):
            return {"status": 200, "body": {"pong": True}}
        """,
    )
    wait_for_status(server, "/ping", 200)
    for file in folder.glob("*.py"):
        file.unlink()
    wait_for_status(server, "/ping", 404)
