"""Where the engine's log lines go when a project says nothing, and a ``LOGGING`` setting for
projects that want the engine's formats.

The engine logs to the ``streams`` and ``steps`` loggers (and their children: ``steps.tasks``
...); ``ctx.logger`` writes to them too. A project that configures neither them nor the root
logger would see only Python's last resort (warnings and errors, message alone). So, as
Django's ``DEFAULT_LOGGING`` does for the ``django`` logger, the streams app gives each of them
a handler of its own (:func:`attach_default_handlers`) when it is ready, at ``INFO``: readable
lines with ``DEBUG`` on, JSON lines with it off. That handler writes a record only while no
other handler would get it, so a handler added later (Celery's worker configures the root
logger, pytest's ``caplog`` too) never doubles a line.
"""

import logging
from typing import Any

from .log_formats import ConsoleFormatter, StructuredFormatter

ENGINE_LOGGERS = ("streams", "steps")


def handled_elsewhere(logger_name: str, own: logging.Handler) -> bool:
    """Whether a record of ``logger_name`` reaches a handler other than ``own``, going up
    the loggers as logging does (until one does not propagate)."""
    logger: logging.Logger | None = logging.getLogger(logger_name)
    while logger is not None:
        if any(handler is not own for handler in logger.handlers):
            return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


class EngineHandler(logging.StreamHandler):  # type: ignore[type-arg]  # of sys.stderr
    """The engine's handler of last resort: standard error, for records that no other
    handler gets."""

    def __init__(self, debug: bool) -> None:
        super().__init__()
        self.setFormatter(ConsoleFormatter() if debug else StructuredFormatter())
        self.addFilter(lambda record: not handled_elsewhere(record.name, self))


def attach_default_handlers(debug: bool, names: tuple[str, ...] = ENGINE_LOGGERS) -> None:
    """Give each logger of ``names`` an :class:`EngineHandler` and the level ``INFO``, unless
    its records already reach a handler (the project's ``LOGGING``, or another library's)."""
    for name in names:
        logger = logging.getLogger(name)
        if logger.hasHandlers():
            continue
        logger.addHandler(EngineHandler(debug))
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)


def logging_config(debug: bool, level: str = "INFO") -> dict[str, Any]:
    """A ``LOGGING`` setting: the engine's loggers at ``level`` and Django's on standard
    error, in the console format with ``debug`` (Django's request lines and the reloader's
    messages included), in JSON lines without (Django's warnings and errors only)."""
    handler = {"class": "logging.StreamHandler", "formatter": "console" if debug else "json"}
    engine = {"handlers": ["console"], "level": level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "console": {"()": "streams.runtime.ConsoleFormatter"},
            "json": {"()": "streams.runtime.StructuredFormatter"},
        },
        "handlers": {"console": handler},
        "loggers": {
            **{name: engine for name in ENGINE_LOGGERS},
            "django": {
                "handlers": ["console"],
                "level": "INFO" if debug else "WARNING",
                "propagate": False,
            },
            # While the database is away the pool tries to connect every half second
            # (streams.runtime.POOL_OPTIONS) and would log each attempt; the requests that
            # fail meanwhile are logged anyway.
            "psycopg.pool": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        },
    }
