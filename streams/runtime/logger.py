"""Structured logging for handlers and hooks: ``ctx.logger.info("Todo created", {"id": id})``.

The formats that show these records are in :mod:`streams.runtime.log_formats`
(``StructuredFormatter`` stays importable from here, as projects' ``LOGGING`` settings name it).
"""

import functools
import logging
import time
from collections.abc import Mapping
from typing import Any

import orjson

from .log_formats import StructuredFormatter

__all__ = ["FlowLogger", "StructuredFormatter"]


@functools.cache
def _logger(name: str) -> logging.Logger:
    # A lookup by name takes the logging module's lock; a logger is made per handler run.
    return logging.getLogger(name)


class FlowLogger:
    """A logger that carries the trace id and the step (or stream) it logs for, and takes a
    dict of fields as its second argument, as Motia's logger does."""

    def __init__(
        self,
        name: str = "steps",
        *,
        trace_id: str | None = None,
        step: str | None = None,
        records: list[dict[str, Any]] | None = None,
        **bound: Any,
    ) -> None:
        self._logger = _logger(name)
        self.trace_id = trace_id
        self.step = step
        self.bound = bound
        # When given, every entry is also kept here (a step run's logs, for the dashboard).
        self.records = records

    def _log(self, level: int, message: str, fields: Mapping[str, Any] | None, **kw: Any) -> None:
        merged = {**self.bound, **(dict(fields) if fields else {}), **kw}
        if self.records is not None:
            self.records.append(
                {
                    "time": time.time(),
                    "level": logging.getLevelName(level).lower(),
                    "msg": message,
                    "fields": orjson.loads(orjson.dumps(merged, default=str)),
                }
            )
        if not self._logger.isEnabledFor(level):
            return
        extra = {"trace_id": self.trace_id, "step": self.step, "fields": merged}
        self._logger.log(level, message, extra=extra)

    def debug(self, message: str, fields: Mapping[str, Any] | None = None, **kw: Any) -> None:
        self._log(logging.DEBUG, message, fields, **kw)

    def info(self, message: str, fields: Mapping[str, Any] | None = None, **kw: Any) -> None:
        self._log(logging.INFO, message, fields, **kw)

    def warning(self, message: str, fields: Mapping[str, Any] | None = None, **kw: Any) -> None:
        self._log(logging.WARNING, message, fields, **kw)

    warn = warning

    def error(self, message: str, fields: Mapping[str, Any] | None = None, **kw: Any) -> None:
        self._log(logging.ERROR, message, fields, **kw)
