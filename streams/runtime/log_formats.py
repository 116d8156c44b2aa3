"""The engine's two log formats, for people and for machines.

Both show what the engine's log records carry besides their message: the ``step`` (or
``stream:<name>``) and ``trace_id`` they are about, and their ``fields`` (the dict a handler
passes to ``ctx.logger.info(message, fields)``, or the engine's own).

- :class:`ConsoleFormatter`: one line a record, for a terminal in development: level, time,
  logger, step and trace id, message, then the fields as ``key=value``; a traceback follows
  on its own lines.
- :class:`StructuredFormatter`: one JSON object a line, for a log collector in production;
  a traceback is the ``exc`` field.
"""

import logging
import traceback
from typing import Any

import orjson

CONTEXT_KEYS = ("trace_id", "step")


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if fields else {}


def _shown(value: Any) -> str:
    """A field's value as written after ``key=``: a plain word as it is, anything else as
    JSON (so that a space or a quote cannot be mistaken for the next field)."""
    if isinstance(value, str) and value and not any(c in value for c in ' ="\n\t\\'):
        return value
    return orjson.dumps(value, default=str).decode()


class ConsoleFormatter(logging.Formatter):
    """``INFO    12:03:04.120 steps [CreateTodo trace=0b5c...] Todo created todoId=0b5c...``,
    and the traceback, if any, below."""

    def format(self, record: logging.LogRecord) -> str:
        moment = f"{self.formatTime(record, '%H:%M:%S')}.{int(record.msecs):03d}"
        parts = [f"{record.levelname:<7}", moment, record.name]
        step, trace_id = getattr(record, "step", None), getattr(record, "trace_id", None)
        about = " ".join(part for part in (step, f"trace={trace_id}" if trace_id else None) if part)
        if about:
            parts.append(f"[{about}]")
        parts.append(record.getMessage())
        parts += [f"{key}={_shown(value)}" for key, value in _fields(record).items()]
        line = " ".join(parts)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class StructuredFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, trace id, step and fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        entry.update({k: v for k, v in _fields(record).items() if k not in entry})
        if record.exc_info:
            entry["exc"] = "".join(traceback.format_exception(*record.exc_info))
        return orjson.dumps(entry, default=str).decode()
