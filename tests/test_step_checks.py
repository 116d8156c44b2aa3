"""The steps' system checks: what ``manage.py check`` prints for broken steps, and the
processes that run no checks (the ASGI server, Celery's worker and beat) refusing to start."""

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from celery.signals import beat_init, worker_init
from django.core.checks import WARNING, Error
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from steps.checks import (
    require_valid_definitions,
    unknown_streams,
    unsubscribed_topics,
    worker_wide_settings,
)
from steps.definitions.step_registry import registry
from steps.http.asgi import StepRouter
from streams.definitions.stream_registry import registry as stream_registry
from tests.helpers.step_builder import build_step

LoadSteps = Callable[..., str]

HEADER = "from pydantic import BaseModel\n\n\ndef handler(input, ctx):\n    pass\n\n\n"


@pytest.fixture
def load_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoadSteps]:
    """Write step modules into a package of the test's own and load them into the project's
    registry, as discovery does; returns the package's name. The registry is put back after."""
    package = f"checked_{tmp_path.name}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    names, errors = {step.name for step in registry}, list(registry.errors)

    def load(**sources: str) -> str:
        for module, config in sources.items():
            (tmp_path / package / f"{module}.py").write_text(HEADER + textwrap.dedent(config))
        importlib.invalidate_caches()
        registry.load(importlib.import_module(f"{package}.{module}") for module in sources)
        return package

    yield load
    for step in registry:
        if step.name not in names:
            registry.unregister(step.name)
    registry.errors[:] = errors
    for module in [m for m in sys.modules if m.split(".")[0] == package]:
        del sys.modules[module]


def check() -> str:
    """What ``manage.py check`` prints, raising or not."""
    out, err = StringIO(), StringIO()
    try:
        call_command("check", stdout=out, stderr=err)
    except SystemCheckError as error:
        return str(error)
    return out.getvalue() + err.getvalue()


def test_the_project_passes_its_checks() -> None:
    assert check() == "System check identified no issues (0 silenced).\n"
    require_valid_definitions()


def test_a_config_that_fails_to_parse_is_an_error_naming_the_module(load_steps: LoadSteps) -> None:
    package = load_steps(
        create_step="""
        config = {"name": "Create", "triggers": [{"type": "http", "method": "POST", "path": "x"}]}
        """,
        bare_step="config = {'name': 'Bare', 'triggers': []}\nhandler = None\n",
    )
    printed = check()
    assert printed.startswith("SystemCheckError: System check identified some issues:")
    assert (
        f"{package}.create_step: (steps.E001) step 'Create' trigger 0: 'path' must start with '/'"
        in printed
    )
    assert f"{package}.bare_step: (steps.E001) {package}.bare_step must define 'config' and " in (
        printed
    )
    assert "Traceback" not in printed
    assert "Create" not in registry and "Bare" not in registry


def test_every_problem_of_a_module_is_listed(load_steps: LoadSteps) -> None:
    package = load_steps(
        many_step="""
        config = {
            "name": "Many",
            "triggers": [
                {"type": "queue", "topic": "t", "config": {"maxRetries": 5, "retry": 1}},
                {"type": "stream", "stream_name": "todo", "groupID": "g"},
            ],
        }
        """
    )
    printed = check()
    assert (
        f"{package}.many_step: (steps.E001) step 'Many' trigger 0: unknown key 'config.retry'"
        in (printed)
    )
    assert "(steps.E001) step 'Many' trigger 1: unknown key 'groupID' (did you mean " in printed


def test_a_bad_cron_expression_is_an_error(load_steps: LoadSteps) -> None:
    package = load_steps(
        tick_step="""
        config = {"name": "Tick", "triggers": [{"type": "cron", "expression": "61 * * * *"}]}
        """
    )
    assert (
        f"{package}.tick_step: (steps.E003) step 'Tick' trigger 0: 'expression': invalid cron "
        "expression '61 * * * *'" in check()
    )


def test_a_seven_field_cron_expression_whose_years_are_past_is_an_error(
    load_steps: LoadSteps,
) -> None:
    package = load_steps(
        tock_step="""
        config = {
            "name": "Tock",
            "triggers": [
                {"type": "cron", "expression": "0 0 5 * * * *"},
                {"type": "cron", "expression": "0 0 0 1 1 * 2020"},
            ],
        }
        """
    )
    printed = check()
    assert (
        f"{package}.tock_step: (steps.E003) step 'Tock' trigger 1: 'expression': cron "
        "expression '0 0 0 1 1 * 2020' never fires again" in printed
    )
    assert "trigger 0" not in printed, "seven fields, seconds first and a year last, are taken"


def test_a_step_name_taken_twice_is_an_error(load_steps: LoadSteps) -> None:
    config = 'config = {"name": "Twice", "triggers": [{"type": "queue", "topic": "twice"}]}\n'
    package = load_steps(first_step=config, second_step=config)
    assert (
        f"{package}.second_step: (steps.E002) step 'Twice' is defined in {package}.first_step "
        f"and {package}.second_step" in check()
    )
    assert registry.get("Twice").module == f"{package}.first_step"


def test_two_steps_answering_one_method_and_path_are_an_error(load_steps: LoadSteps) -> None:
    package = load_steps(
        create_step="""
        config = {"name": "Create", "triggers": [{"type": "http", "method": "POST", "path": "/t"}]}
        """,
        add_step="""
        config = {"name": "Add", "triggers": [{"type": "http", "method": "post", "path": "/t"}]}
        """,
        read_step="""
        config = {
            "name": "Read",
            "triggers": [
                {"type": "http", "method": "GET", "path": "/t/:id"},
                {"type": "http", "method": "DELETE", "path": "/t/:id"},
            ],
        }
        """,
        find_step="""
        config = {"name": "Find", "triggers": [{"type": "http", "method": "GET", "path": "/t/:k"}]}
        """,
    )
    printed = check()
    assert (
        f"{package}.add_step: (steps.E005) POST /t of step 'Add' ({package}.add_step) is the "
        f"same route as POST /t of step 'Create' ({package}.create_step)" in printed
    )
    assert (
        f"{package}.find_step: (steps.E005) GET /t/:k of step 'Find' ({package}.find_step) is "
        f"the same route as GET /t/:id of step 'Read' ({package}.read_step)" in printed
    )
    assert "HINT: give one of them another path" in printed
    assert printed.count("steps.E005") == 2, "DELETE /t/:id is a route of its own"
    with pytest.raises(ImproperlyConfigured, match=r"steps\.E005"):
        StepRouter(application=None)


def test_a_stream_trigger_naming_no_stream_is_an_error(
    load_steps: LoadSteps, define_stream: Callable[..., Any]
) -> None:
    define_stream("todos-of-the-test")
    package = load_steps(
        watch_step="""
        config = {"name": "Watch", "triggers": [{"type": "stream", "streamName": "todos"}]}
        """
    )
    printed = check()
    assert (
        f"{package}.watch_step: (steps.E004) step 'Watch' trigger 0: no stream 'todos' is defined"
        in printed
    )
    assert "HINT: the streams are: " in printed and "todos-of-the-test" in printed


def test_warnings_are_printed_without_failing(load_steps: LoadSteps) -> None:
    package = load_steps(
        send_step="""
        config = {
            "name": "Send",
            "triggers": [{"type": "queue", "topic": "in", "config": {"visibilityTimeout": 60}}],
            "enqueues": ["nowhere", "documented", "in"],
        }
        """,
        doc_step="""
        config = {
            "name": "Doc",
            "triggers": [{"type": "http", "method": "GET", "path": "/doc-step"}],
            "virtualSubscribes": ["documented"],
        }
        """,
    )
    printed = check()
    assert printed.startswith("System check identified some issues:\n\nWARNINGS:")
    assert (
        f"{package}.send_step: (steps.W001) step 'Send' enqueues 'nowhere', which no step "
        "subscribes to" in printed
    )
    assert (
        f"{package}.send_step: (steps.W002) step 'Send' trigger 0: 'config.visibilityTimeout' "
        "has no effect here" in printed
    )
    assert "'documented'" not in printed and "'in'" not in printed
    assert "identified 2 issues (0 silenced)" in printed
    require_valid_definitions()  # warnings stop nothing


# Celery's Django fixup warns of a worker_init without a worker: the signal is sent bare here.
@pytest.mark.filterwarnings("ignore::celery.fixups.django.FixupWarning")
def test_the_processes_that_run_no_checks_refuse_to_start(load_steps: LoadSteps) -> None:
    """An ASGI server building the step router, a Celery worker or beat starting: each stops
    with the errors that ``manage.py check`` prints."""
    package = load_steps(
        broken_step='config = {"name": "Broken", "triggers": [{"type": "queue"}]}\n'
    )
    listed = f"{package}.broken_step: (steps.E001) step 'Broken' trigger 0: 'topic' is required"
    with pytest.raises(ImproperlyConfigured, match=r"the steps or streams have errors") as refused:
        require_valid_definitions()
    assert listed in str(refused.value)
    with pytest.raises(ImproperlyConfigured, match="'topic' is required"):
        StepRouter(lambda scope, receive, send: None)
    for signal in (worker_init, beat_init):
        with pytest.raises(SystemExit) as exited:
            signal.send(sender=None)
        assert listed in str(exited.value.code)
    with override_settings(SILENCED_SYSTEM_CHECKS=["steps.E001"]):
        require_valid_definitions()


# --- the checks on steps built in the test --------------------------------------------------


def test_unknown_streams_names_each_trigger() -> None:
    steps = [
        build_step(
            name="A",
            triggers=[
                {"type": "stream", "streamName": "known"},
                {"type": "stream", "streamName": "other"},
            ],
        )
    ]
    assert unknown_streams(steps, ["known"]) == [
        Error(
            "step 'A' trigger 1: no stream 'other' is defined",
            hint="the streams are: known",
            obj="tests.A",
            id="steps.E004",
        )
    ]
    assert unknown_streams(steps, ["known", "other"]) == []


def test_a_topic_is_subscribed_by_a_queue_trigger_or_a_virtual_subscribe() -> None:
    sender = build_step(
        name="S", triggers=[{"type": "queue", "topic": "x"}], enqueues=["a", "b", "c"]
    )
    queue = build_step(name="Q", triggers=[{"type": "queue", "topic": "a"}])
    virtual = build_step(
        name="V",
        triggers=[{"type": "http", "method": "GET", "path": "/v"}],
        virtualSubscribes=["b"],
    )
    found = unsubscribed_topics([sender], [sender, queue, virtual])
    assert [(m.msg, m.id, m.level) for m in found] == [
        ("step 'S' enqueues 'c', which no step subscribes to", "steps.W001", WARNING)
    ]


def test_only_worker_wide_queue_settings_are_warned_about() -> None:
    step = build_step(
        name="Q",
        triggers=[
            {"type": "queue", "topic": "a", "config": {"maxRetries": 1, "delaySeconds": 2}},
            {"type": "queue", "topic": "b", "config": {"concurrency": 2}},
        ],
    )
    assert [m.msg for m in worker_wide_settings([step])] == [
        "step 'Q' trigger 1: 'config.concurrency' has no effect here"
    ]


# --- stream definitions ---------------------------------------------------------------------


@pytest.fixture
def load_streams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """Write stream modules into a package of the test's own and load them into the project's
    stream registry, as discovery does; the registry is put back after."""
    package = f"streams_{tmp_path.name}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    names, errors = set(stream_registry.names()), list(stream_registry.errors)

    def load(**sources: str) -> str:
        for module, source in sources.items():
            text = "from streams import StreamConfig\n\n" + textwrap.dedent(source)
            (tmp_path / package / f"{module}.py").write_text(text)
        importlib.invalidate_caches()
        stream_registry.load(f"{package}.{module}" for module in sources)
        return package

    yield load
    for name in set(stream_registry.names()) - names:
        stream_registry.unregister(name)
    stream_registry.errors[:] = errors
    for module in [m for m in sys.modules if m.split(".")[0] == package]:
        del sys.modules[module]


def test_broken_stream_modules_are_errors_naming_the_module(
    load_streams: Callable[..., str],
) -> None:
    package = load_streams(
        bad_schema_stream='config = StreamConfig(name="bad", schema="Todo")\n',
        no_config_stream="NAME = 'none'\n",
        twice_stream='config = StreamConfig(name="todo")\n',
        hook_stream='config = {"name": "hooked", "onJoin": 3}\n',
    )
    report = check()
    assert (
        f"{package}.bad_schema_stream: (streams.E003) stream 'bad': 'schema' must be a pydantic "
        "model class, a JSON-schema dict or None, not 'Todo'"
    ) in report
    assert f"{package}.no_config_stream: (streams.E003) {package}.no_config_stream defines no" in (
        report
    )
    assert (
        f"{package}.twice_stream: (streams.E004) stream 'todo' is defined twice: in "
        f"examples.todo.todo_stream and {package}.twice_stream"
    ) in report
    assert f"{package}.hook_stream: (streams.E003) stream 'hooked': 'on_join' must be a" in report
    # The processes that run no checks refuse to start with the same messages.
    with pytest.raises(ImproperlyConfigured, match=r"streams\.E004"):
        require_valid_definitions()
    assert "bad" not in stream_registry and "hooked" not in stream_registry


def test_a_module_with_a_bug_is_not_hidden_as_a_check(load_streams: Callable[..., str]) -> None:
    with pytest.raises(ZeroDivisionError):
        load_streams(buggy_stream="config = StreamConfig(name='x', schema=1 / 0)\n")
