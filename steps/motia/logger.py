"""Motia's ``logger``: ``logger.info("Todo created", {"id": todo_id})``.

Within a run it logs through the run's own logger (:class:`streams.runtime.logger.FlowLogger`): each
line carries the trace id and the step, and is kept in the run's record (the dashboard and
the admin show it). Outside a run (at import, in a shell) it logs to the ``motia`` logger.
"""

from collections.abc import Mapping
from typing import Any

from streams.runtime import FlowLogger

from .running import current_run

_outside_runs = FlowLogger("motia")


def _fields(data: Any) -> Mapping[str, Any] | None:
    """Motia logs any value beside the message; the engine's logger takes a dict of fields."""
    if data is None or isinstance(data, Mapping):
        return data
    if hasattr(data, "model_dump"):
        dumped: Mapping[str, Any] = data.model_dump(mode="json")
        return dumped
    return {"data": data}


class Logger:
    """A logger with Motia's methods: ``info``, ``debug``, ``warn`` (and ``warning``) and
    ``error``, each taking a message and optionally a dict of fields.

    ``bound`` is the run's own logger (``ctx.logger``); the module-level ``logger`` has none
    and logs for whichever run is current."""

    def __init__(self, bound: FlowLogger | None = None) -> None:
        self._bound = bound

    def _target(self) -> FlowLogger:
        if self._bound is not None:
            return self._bound
        run = current_run()
        flow_logger = getattr(run.engine_ctx, "logger", None) if run is not None else None
        return flow_logger if isinstance(flow_logger, FlowLogger) else _outside_runs

    def debug(self, message: str, data: Any = None, **fields: Any) -> None:
        self._target().debug(str(message), _fields(data), **fields)

    def info(self, message: str, data: Any = None, **fields: Any) -> None:
        self._target().info(str(message), _fields(data), **fields)

    def warning(self, message: str, data: Any = None, **fields: Any) -> None:
        self._target().warning(str(message), _fields(data), **fields)

    warn = warning

    def error(self, message: str, data: Any = None, **fields: Any) -> None:
        self._target().error(str(message), _fields(data), **fields)


logger = Logger()
