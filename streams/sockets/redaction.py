"""Keeping tokens out of log lines.

Clients that cannot send headers (browsers) may pass the stream token in the URL
(``?authToken=``), and servers log URLs: uvicorn's access log and its WebSocket handshake lines,
runserver's request lines. :class:`RedactSecrets` rewrites the value of every query parameter
whose name says it is a secret before such a line is written; the stream app puts it on the
servers' loggers when Django starts (:func:`redact_server_logs`).

A name is read as authentication reads it (``parse_qsl``: ``%61uthToken`` and ``authToken`` are
one name, ``+`` is a space), so whatever a client can send as a token is redacted.
"""

import logging
import re
from typing import Any
from urllib.parse import unquote_plus

# A query parameter in a URL, as it is written in a log line: its name and its value.
_PARAMETER = re.compile(r"(?P<lead>[?&])(?P<name>[^=&#\s\"']*)=(?P<value>[^&#\s\"']*)")
# What the name of a secret mentions.
_SECRET_NAME = re.compile(r"token|secret|password|auth", re.IGNORECASE)
REDACTED = "[redacted]"

# Loggers of the ASGI servers that write request URLs.
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error", "django.channels.server", "django.server")


def is_secret_name(name: str) -> bool:
    """Whether a query parameter named ``name`` (as a URL writes it, percent-encoded or not)
    holds a secret: decoded as ``parse_qsl`` decodes it, it mentions a token, a secret, a
    password or auth."""
    return _SECRET_NAME.search(unquote_plus(name)) is not None


def _redact_parameter(parameter: re.Match[str]) -> str:
    name, value = parameter["name"], parameter["value"]
    # Another parameter's value may be a URL with parameters of its own (?next=/x?token=...).
    value = REDACTED if is_secret_name(name) else redact(value)
    return f"{parameter['lead']}{name}={value}"


def redact(text: str) -> str:
    """``text`` with the values of secret query parameters replaced by ``[redacted]``."""
    if "=" not in text:
        return text
    return _PARAMETER.sub(_redact_parameter, text)


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
