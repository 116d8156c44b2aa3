"""Keeping tokens out of log lines.

Clients that cannot send headers (browsers) may pass the stream token in the URL
(``?authToken=``), and servers log URLs: uvicorn's access log and its WebSocket handshake lines,
runserver's request lines. :class:`RedactSecrets` rewrites the value of every query parameter
whose name says it is a secret before such a line is written; the stream app puts it on the
servers' loggers when Django starts (:func:`redact_server_logs`).
"""

import logging
import re
from typing import Any

# A query parameter whose name mentions a token, a secret, a password or auth, and its value.
_SECRET_PARAMETER = re.compile(
    r"(?P<name>[?&][^=&#\s\"']*(?:token|secret|password|auth)[^=&#\s\"']*=)[^&#\s\"']*",
    re.IGNORECASE,
)
REDACTED = "[redacted]"

# Loggers of the ASGI servers that write request URLs.
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error", "django.channels.server", "django.server")


def redact(text: str) -> str:
    """``text`` with the values of secret query parameters replaced by ``[redacted]``."""
    if "=" not in text:
        return text
    return _SECRET_PARAMETER.sub(rf"\g<name>{REDACTED}", text)


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactSecrets(logging.Filter):
    """A logging filter that redacts secret query parameters in a record's message and its
    arguments (servers log the URL as an argument of a ``%s`` format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redact_value(arg) for key, arg in record.args.items()}
        return True


def redact_server_logs(names: tuple[str, ...] = SERVER_LOGGERS) -> None:
    """Put :class:`RedactSecrets` on the servers' loggers (once each)."""
    for name in names:
        server_logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in server_logger.filters):
            server_logger.addFilter(RedactSecrets())
