"""``manage.py scaffold``: the names it derives and refuses, what it writes and never
overwrites, and that what it writes passes ruff and the checks, is discovered and runs.

The command writes into ``scaffolded``, a blank app in the test's temporary folder: installed
in this process with ``override_settings``, and in the test's processes by
``tests.scaffold_settings`` (``SCAFFOLD_PROJECT`` names the folder).
"""

import asyncio
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import override_settings

from steps.management.scaffolding import (
    TEMPLATES,
    TRIGGERS,
    ScaffoldError,
    camel_case,
    kebab,
    snake_case,
    step_module,
    stream_module,
)
from tests.helpers.passes import embedded_pass_only
from tests.helpers.processes import (
    PYTHON,
    ROOT,
    ServerProcess,
    Start,
    TestDatabase,
    server_environment,
)
from tests.helpers.wire import subscribed

APP = "scaffolded"
WAIT = 10.0


# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "snake", "camel", "kebab_name"),
    [
        ("notes", "notes", "Notes", "notes"),
        ("parallelMerge", "parallel_merge", "ParallelMerge", "parallel-merge"),
        ("CreateHTTPLink", "create_http_link", "CreateHttpLink", "create-http-link"),
        ("order_items", "order_items", "OrderItems", "order-items"),
        ("Step2Go", "step2_go", "Step2Go", "step2-go"),
    ],
)
def test_names_derived_from_a_name(name: str, snake: str, camel: str, kebab_name: str) -> None:
    assert (snake_case(name), camel_case(name), kebab(name)) == (snake, camel, kebab_name)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("todo-list", "not a valid stream name"),
        ("2fast", "not a valid stream name"),
        ("_hidden", "not a valid stream name"),
        ("class", "not a valid stream name"),  # ctx.streams.class cannot be written
        ("", "not a valid stream name"),
        ("a" * 33, "too long"),
    ],
)
def test_bad_stream_names_are_refused(name: str, problem: str) -> None:
    with pytest.raises(ScaffoldError, match=problem):
        stream_module(name)


@pytest.mark.parametrize(
    ("name", "problem"),
    [("Create Order", "not a valid step name"), ("é", "not a valid step name"), ("A" * 41, "long")],
)
def test_bad_step_names_are_refused(name: str, problem: str) -> None:
    with pytest.raises(ScaffoldError, match=problem):
        step_module(name, "queue", APP)


@pytest.mark.parametrize("trigger", ["http", "stream"])
def test_http_and_stream_steps_need_a_stream(trigger: str) -> None:
    with pytest.raises(ScaffoldError, match="needs --stream NAME"):
        step_module("Act", trigger, APP)


def test_what_each_module_is_rendered_with() -> None:
    stream = stream_module("parallelMerge")
    assert (stream.filename, stream.template) == ("parallel_merge_stream.py", "stream.py-tpl")
    assert stream.context == {"stream_name": "parallelMerge", "model": "ParallelMergeItem"}
    step = step_module("SaveMerge", "http", APP, "parallelMerge", new_stream=True)
    assert (step.filename, step.template) == ("save_merge_step.py", "http_step.py-tpl")
    assert step.context["url_name"] == "parallel-merge"
    assert step.context["model"] == "ParallelMergeItem"
    assert step.context["stream_module"] == "parallel_merge_stream"
    # A stream defined before: the step does not import a model it cannot know.
    assert "model" not in step_module("SaveMerge", "http", APP, "parallelMerge").context
    assert step_module("Tick", "queue", APP).context["topic"] == f"{APP}.tick"


@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize("new_stream", [True, False])
def test_every_template_renders_python(trigger: str, new_stream: bool) -> None:
    for module in (stream_module("notes"), step_module("Act", trigger, APP, "notes")):
        source = module.render((TEMPLATES / module.template).read_text())
        compile(source, module.filename, "exec")
        assert "{{" not in source and "{%" not in source


# --- the command, in this process -----------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Path]:
    """The blank app ``scaffolded`` in a temporary folder, installed for the test; its
    folder."""
    folder = tmp_path / APP
    folder.mkdir()
    (folder / "__init__.py").touch()
    sys.path.insert(0, str(tmp_path))
    try:
        with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, APP]):
            yield folder
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(APP, None)


def scaffold(*args: str) -> list[str]:
    """Run the command here; the lines it printed."""
    out = io.StringIO()
    call_command("scaffold", *args, stdout=out)
    return out.getvalue().splitlines()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--stream", "notes"], "no installed app has the label 'nope'"),
        (["steps", "--stream", "notes"], "'steps' is the engine itself"),
        (["streams", "--stream", "notes"], "'streams' is the engine itself"),
        (["ninja", "--stream", "notes"], "'ninja' is installed in"),
        ([APP], "name a new stream"),
        ([APP, "--stream", "notes", "--trigger", "cron"], "--trigger goes with --step"),
        ([APP, "--stream", "to-do"], "not a valid stream name"),
        ([APP, "--step", "Do it"], "not a valid step name"),
        ([APP, "--step", "Act"], "needs --stream NAME"),
        ([APP, "--step", "Watch", "--trigger", "stream"], "needs --stream NAME"),
        ([APP, "--stream", "todo"], "a stream named 'todo' is already defined"),
        (
            [APP, "--stream", "notes", "--step", "CreateTodo"],
            "a step named 'CreateTodo' is already defined (examples.todo.create_todo_step)",
        ),
    ],
)
def test_refusals_write_nothing(app: Path, args: list[str], message: str) -> None:
    with pytest.raises(CommandError) as refused:
        scaffold(*args)
    assert message in str(refused.value)
    assert sorted(path.name for path in app.iterdir()) == ["__init__.py"]


def test_it_never_overwrites_a_file(app: Path) -> None:
    assert scaffold(APP, "--stream", "notes") == [f"Created {app / 'notes_stream.py'}"]
    (app / "notes_stream.py").write_text("# mine\n")
    with pytest.raises(CommandError, match=r"notes_stream\.py already exists"):
        scaffold(APP, "--stream", "notes", "--step", "SaveNote")
    # Refused before anything was written: not the step either.
    assert sorted(path.name for path in app.iterdir()) == ["__init__.py", "notes_stream.py"]
    assert (app / "notes_stream.py").read_text() == "# mine\n"


def test_a_step_for_a_stream_defined_elsewhere(app: Path) -> None:
    """The stream exists: only the step is written, without a response model it cannot
    import; it passes ruff as it is."""
    assert scaffold(APP, "--stream", "todo", "--step", "PutTodo") == [
        f"Created {app / 'put_todo_step.py'}"
    ]
    source = (app / "put_todo_step.py").read_text()
    assert '"path": "/todo/:id"' in source
    assert "ctx.streams.todo" in source
    assert "response_schema" not in source
    assert_passes_ruff(app.parent)


# --- what it writes, in real processes ------------------------------------------------------


def assert_passes_ruff(project: Path) -> None:
    """ruff with the project's rules, as in a project where ``project`` is the source root
    (the engine is a third-party package there)."""
    ruff = Path(sys.executable).with_name("ruff")
    config = ["--config", str(ROOT / "pyproject.toml"), "--config", f"src = ['{project}']"]
    for command in (["check"], ["format", "--check", "--diff"]):
        result = subprocess.run(
            [str(ruff), *command, *config, str(project)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def with_app(project: Path) -> dict[str, str]:
    """The environment of a process with ``scaffolded`` (in the folder ``project``) installed."""
    return {"DJANGO_SETTINGS_MODULE": "tests.scaffold_settings", "SCAFFOLD_PROJECT": str(project)}


def manage(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``manage.py ARGS`` in a process with ``scaffolded`` installed."""
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=server_environment(with_app(project)),
        capture_output=True,
        text=True,
        timeout=120,
    )


@embedded_pass_only
@pytest.mark.timeout(180)
def test_a_scaffolded_stream_and_steps_are_discovered_and_run(
    tmp_path: Path, database: TestDatabase, start: Start
) -> None:
    """A new stream with its http step, then a queue, a stream and a cron step for it: ruff
    and ``manage.py check`` pass, ``manage.py steps`` lists them, and a PUT to the http step
    on a real server changes the stream under a subscriber's eyes."""
    project = tmp_path / "project"
    (project / APP).mkdir(parents=True)
    (project / APP / "__init__.py").touch()
    for args in (
        ["--stream", "notes", "--step", "SaveNote"],
        ["--stream", "notes", "--step", "ProcessNote", "--trigger", "queue"],
        ["--stream", "notes", "--step", "WatchNotes", "--trigger", "stream"],
        ["--stream", "notes", "--step", "Hourly", "--trigger", "cron"],
    ):
        result = manage(project, "scaffold", APP, *args)
        assert result.returncode == 0, result.stderr
    files = sorted(path.name for path in (project / APP).iterdir() if path.suffix == ".py")
    assert files == [
        "__init__.py",
        "hourly_step.py",
        "notes_stream.py",
        "process_note_step.py",
        "save_note_step.py",
        "watch_notes_step.py",
    ]
    assert_passes_ruff(project)

    check = manage(project, "check")
    assert check.returncode == 0, check.stderr
    assert "System check identified no issues" in check.stdout
    listed = manage(project, "steps", "--json")
    assert listed.returncode == 0, listed.stderr
    (flow,) = [flow for flow in json.loads(listed.stdout)["flows"] if flow["name"] == APP]
    kinds = {step["name"]: [t["type"] for t in step["triggers"]] for step in flow["steps"]}
    assert kinds == {
        "SaveNote": ["http"],
        "ProcessNote": ["queue"],
        "WatchNotes": ["stream"],
        "Hourly": ["cron"],
    }
    assert {step["module"] for step in flow["steps"]} == {
        f"{APP}.save_note_step",
        f"{APP}.process_note_step",
        f"{APP}.watch_notes_step",
        f"{APP}.hourly_step",
    }

    server = start(ServerProcess(database, with_app(project)))
    asyncio.run(put_under_a_subscriber(server))


async def put_under_a_subscriber(server: ServerProcess) -> None:
    async with (
        subscribed(server.ws_url, "notes", "default", timeout=WAIT) as subscriber,
        server.http_client(WAIT) as http,
    ):
        assert subscriber.sync["event"]["data"] == []
        response = await http.put("/notes/n1", json={"text": "hello"})
        assert response.status_code == 200, response.text
        assert response.json() == {"id": "n1", "text": "hello"}
        await subscriber.wait_until(lambda: subscriber.frames, "the change", WAIT)
    (frame,) = subscriber.frames
    assert (frame["id"], frame["event"]) == (
        "n1",
        {"type": "create", "data": {"id": "n1", "text": "hello"}},
    )
