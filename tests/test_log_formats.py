"""The engine's log formats and its handler of last resort (``streams.runtime.log_formats``,
``streams.runtime.log_config``), on records made here. Real processes' output:
``test_logging.py``."""

import io
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from streams.runtime.log_config import (
    EngineHandler,
    attach_default_handlers,
    handled_elsewhere,
    logging_config,
)
from streams.runtime.log_formats import ConsoleFormatter, StructuredFormatter


def record(
    message: str = "Todo created", *, failed: bool = False, **extra: object
) -> logging.LogRecord:
    exc_info = None
    if failed:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    made = logging.LogRecord("steps", logging.WARNING, __file__, 1, message, (), exc_info)
    made.__dict__.update(extra)
    return made


STEP_RECORD: dict[str, Any] = {
    "step": "CreateTodo",
    "trace_id": "t-1",
    "fields": {"todoId": "a1", "n": 2},
}


def test_console_lines_read_level_time_logger_step_trace_message_and_fields() -> None:
    line = ConsoleFormatter().format(record(**STEP_RECORD))
    level, time, rest = line.split(" ", 2)
    assert level == "WARNING"
    assert time.count(":") == 2 and "." in time  # 12:03:04.120
    assert rest.lstrip() == "steps [CreateTodo trace=t-1] Todo created todoId=a1 n=2"


def test_console_fields_that_are_not_plain_words_are_json() -> None:
    fields = {"text": "two words", "empty": "", "items": [1, "a"], "none": None}
    line = ConsoleFormatter().format(record("x", fields=fields))
    assert line.endswith(' x text="two words" empty="" items=[1,"a"] none=null')


def test_console_lines_without_a_step_have_no_brackets() -> None:
    assert ConsoleFormatter().format(record("plain")).endswith(" steps plain")


def test_a_traceback_follows_on_its_own_lines() -> None:
    lines = ConsoleFormatter().format(record(failed=True, **STEP_RECORD)).splitlines()
    assert lines[0].endswith("Todo created todoId=a1 n=2")
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: boom"


def test_structured_lines_are_one_json_object() -> None:
    line = StructuredFormatter().format(record(failed=True, **STEP_RECORD))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "warning" and entry["logger"] == "steps"
    assert entry["msg"] == "Todo created"
    assert (entry["step"], entry["trace_id"], entry["todoId"], entry["n"]) == (
        "CreateTodo",
        "t-1",
        "a1",
        2,
    )
    assert entry["exc"].rstrip().endswith("ValueError: boom")


@pytest.fixture
def logger_name() -> Iterator[str]:
    """A logger tree of the test's own (``<name>`` and ``<name>.child``), emptied after it."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    for each in (name, f"{name}.child"):
        logger = logging.getLogger(each)
        logger.handlers.clear()
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


def test_the_engine_handler_writes_only_what_no_other_handler_gets(
    logger_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing anywhere on the way up: not even the root logger (pytest gives it handlers).
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    attach_default_handlers(debug=True, names=(logger_name,))
    logger = logging.getLogger(logger_name)
    (handler,) = logger.handlers
    assert isinstance(handler, EngineHandler) and logger.level == logging.INFO
    output = io.StringIO()
    handler.setStream(output)
    child = logging.getLogger(f"{logger_name}.child")
    child.info("first")
    assert output.getvalue().count("first") == 1

    # Another handler on the way (the project's, Celery's, caplog's): it gets the line alone.
    other = logging.StreamHandler(io.StringIO())
    logging.getLogger().addHandler(other)
    assert handled_elsewhere(child.name, handler)
    child.info("second")
    assert "second" not in output.getvalue()
    assert "second" in other.stream.getvalue()


def test_no_engine_handler_where_the_project_configured_one(logger_name: str) -> None:
    project_handler = logging.StreamHandler(io.StringIO())
    logging.getLogger(logger_name).addHandler(project_handler)
    attach_default_handlers(debug=True, names=(logger_name,))
    assert logging.getLogger(logger_name).handlers == [project_handler]


def test_attaching_twice_attaches_once(logger_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    attach_default_handlers(debug=False, names=(logger_name,))
    attach_default_handlers(debug=False, names=(logger_name,))
    (handler,) = logging.getLogger(logger_name).handlers
    assert isinstance(handler.formatter, StructuredFormatter)


@pytest.mark.parametrize(
    ("debug", "formatter", "django_level"), [(True, "console", "INFO"), (False, "json", "WARNING")]
)
def test_the_logging_setting_follows_debug(debug: bool, formatter: str, django_level: str) -> None:
    config = logging_config(debug=debug, level="DEBUG")
    assert config["handlers"]["console"]["formatter"] == formatter
    assert config["loggers"]["django"]["level"] == django_level
    assert config["loggers"]["steps"]["level"] == config["loggers"]["streams"]["level"] == "DEBUG"
