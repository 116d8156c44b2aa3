"""What a developer and a log collector read on a server's output (docs/logging.md).

A project made as docs/guide.md makes one has no ``LOGGING``: a failing queue step still says
which step, which trace and what error (with its traceback), and ``ctx.logger`` lines are
shown, once, readable with ``DEBUG`` on and as JSON lines with it off. A project that
configures logging gets each line once, in its own format. This repository's site does the
same through its ``LOGGING`` setting, Django's request lines included in development.
"""

import json
import re
from typing import Any

import httpx
import pytest

from tests.helpers.guide_project import DevServer, GuideProject
from tests.helpers.passes import embedded_pass_only
from tests.helpers.processes import ServerProcess, Start, TestDatabase
from tests.helpers.waiting import eventually

# What this file checks does not depend on the database or the channel layer: it runs once,
# in the embedded pass.
pytestmark = embedded_pass_only

SAY_STEP = """
    config = {
        "name": "Say",
        "triggers": [{"type": "http", "method": "GET", "path": "/say"}],
        "enqueues": ["said"],
    }


    async def handler(request, ctx):
        ctx.logger.info("saying it", {"words": "hello there", "count": 2})
        await ctx.enqueue({"topic": "said", "data": {}})
        return {"status": 200, "body": {}}
"""
FAIL_STEP = """
    config = {
        "name": "Fail",
        "triggers": [
            {"type": "queue", "topic": "said", "config": {"maxRetries": 1, "backoffMs": 100}}
        ],
    }


    def handler(input, ctx):
        raise ValueError("the disk is full")
"""
PROJECT_LOGGING = """
    from .settings import *

    LOGGING = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"own": {"format": "PROJECT|%(levelname)s|%(name)s|%(message)s"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "own"}},
        LOGGERS
    }
"""
PRODUCTION = """
    from .settings import *

    DEBUG = False
    ALLOWED_HOSTS = ["127.0.0.1"]
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> GuideProject:
    project = GuideProject(tmp_path_factory.mktemp("logs"))
    project.write("myapp/say_step.py", SAY_STEP)
    project.write("myapp/fail_step.py", FAIL_STEP)
    root_only = '"root": {"handlers": ["console"], "level": "INFO"},'
    project.write("mysite/settings_root.py", PROJECT_LOGGING.replace("LOGGERS", root_only))
    engine_only = '"loggers": {"steps": {"handlers": ["console"], "level": "INFO"}},'
    project.write("mysite/settings_steps.py", PROJECT_LOGGING.replace("LOGGERS", engine_only))
    project.write("mysite/settings_production.py", PRODUCTION)
    return project


def fail_a_step(project: GuideProject, settings: str) -> tuple[str, str]:
    """Serve ``project`` with ``settings``, call ``/say`` (whose queue step fails twice): the
    server's output once the step is dead-lettered, and the trace id of the call."""
    with DevServer(project, reload=False, settings=settings) as server:
        response = httpx.get(f"{server.url}/say", timeout=10)
        assert response.status_code == 200, response.text
        eventually(
            lambda: "dead-lettered" in server.log(),
            lambda: f"the step dead-lettered in the output:\n{server.log()}",
            20,
        )
        return server.log(), response.headers["x-trace-id"]


def test_without_logging_settings_a_failing_step_says_what_failed(project: GuideProject) -> None:
    log, trace_id = fail_a_step(project, "mysite.settings")
    # DEBUG is on (startproject's default): readable lines.
    said = [line for line in log.splitlines() if "saying it" in line]
    assert said == [
        line for line in said if re.match(r"INFO +\d\d:\d\d:\d\d\.\d{3} steps \[Say trace=", line)
    ]
    assert len(said) == 1, log
    assert said[0].endswith('saying it words="hello there" count=2')
    failed = [line for line in log.splitlines() if "failed (attempt" in line]
    assert len(failed) == 2, log
    assert f"[Fail trace={trace_id}] step Fail failed (attempt 1 of 2), retrying" in failed[0]
    assert f"[Fail trace={trace_id}] step Fail failed (attempt 2 of 2), dead-lettered" in failed[1]
    assert "error=" in failed[1] and "the disk is full" in failed[1]
    # Each failure's traceback, on lines of its own.
    assert log.count("Traceback (most recent call last):") == 2
    assert log.count("ValueError: the disk is full") == 2
    assert 'fail_step.py", line' in log


def test_with_debug_off_the_lines_are_json(project: GuideProject) -> None:
    log, trace_id = fail_a_step(project, "mysite.settings_production")
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    said = [entry for entry in entries if entry["msg"] == "saying it"]
    assert len(said) == 1, log
    assert said[0]["step"] == "Say" and said[0]["trace_id"] == trace_id
    assert said[0]["words"] == "hello there"
    dead = [entry for entry in entries if "dead-lettered" in entry["msg"]]
    assert len(dead) == 1, log
    assert dead[0]["level"] == "error" and dead[0]["step"] == "Fail"
    assert dead[0]["trace_id"] == trace_id
    assert dead[0]["exc"].rstrip().endswith("ValueError: the disk is full")


@pytest.mark.parametrize("settings", ["mysite.settings_root", "mysite.settings_steps"])
def test_a_project_that_configures_logging_gets_each_line_once_in_its_format(
    project: GuideProject, settings: str
) -> None:
    log, _trace_id = fail_a_step(project, settings)
    said = [line for line in log.splitlines() if "saying it" in line]
    assert said == ["PROJECT|INFO|steps|saying it"], log
    dead = [line for line in log.splitlines() if "dead-lettered" in line]
    assert dead == ["PROJECT|ERROR|steps.tasks|step Fail failed (attempt 2 of 2), dead-lettered"]


def create_todo(server: ServerProcess) -> tuple[dict[str, Any], str]:
    response = httpx.post(f"{server.http_url}/todos", json={"description": "Log me"}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json(), response.headers["x-trace-id"]


def test_the_site_logs_readable_lines_in_development_and_json_in_production(
    start: Start, database: TestDatabase
) -> None:
    development = start(ServerProcess(database))
    _todo, trace_id = create_todo(development)
    eventually(lambda: "HTTP POST /todos 201" in development.log(), "the request line", 10)
    lines = development.log().splitlines()
    created = [line for line in lines if f"[CreateTodo trace={trace_id}]" in line]
    assert len(created) == 1 and created[0].startswith("INFO "), development.log()
    request = [line for line in lines if "HTTP POST /todos 201" in line]
    assert request and " django.channels.server HTTP POST /todos 201" in request[0]

    production = {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "a-test-key-that-is-long-enough-for-the-checks-1234567890",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_HTTPS": "0",
    }
    server = start(ServerProcess(database, production, name="production"))
    _todo, trace_id = create_todo(server)

    def created_entries() -> list[dict[str, Any]]:
        entries = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
        return [entry for entry in entries if entry.get("trace_id") == trace_id]

    (entry,) = eventually(created_entries, "the step's JSON line", 10)
    assert entry["step"] == "CreateTodo" and entry["level"] == "info"
