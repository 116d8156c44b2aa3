"""Which host names the site answers to: Django's ``ALLOWED_HOSTS`` rule, for the requests and
handshakes that Django's middleware never sees.

A hostile web page can point a name of its own at a server on localhost or an intranet (DNS
rebinding) and then read and write that server as a page of its own name: the browser sends
``Host: attacker.example``. Django refuses such a request in ``HttpRequest.get_host`` (for pages,
``CommonMiddleware`` calls it); step endpoints and stream sockets skip the middleware, so they
call :func:`refused_host` instead. The ``Origin`` check of stream sockets matches the origins of
pages against the same :func:`allowed_hosts`.
"""

import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http.request import split_domain_port, validate_host

# Django's own logger for this refusal, so that a project's LOGGING treats both alike.
logger = logging.getLogger("django.security.DisallowedHost")

# What Django allows while DEBUG is on and ALLOWED_HOSTS is empty (a new project's settings).
DEBUG_HOSTS = (".localhost", "127.0.0.1", "[::1]")


def allowed_hosts() -> list[str]:
    """``ALLOWED_HOSTS``, or the local names under ``DEBUG`` when it is empty, as Django's
    ``HttpRequest.get_host`` reads it."""
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        return list(DEBUG_HOSTS)
    return hosts


def host_allowed(host: str) -> bool:
    """Whether ``host`` (as a ``Host`` header gives it: a name or address, a port or none) is
    one the site answers to."""
    return _host_allowed(host, tuple(allowed_hosts()))


# Every socket's handshake asks, nearly always about the same few hosts; the allowed hosts are
# part of the key, so a change of the settings (tests override them) is a new question.
@lru_cache(maxsize=256)
def _host_allowed(host: str, hosts: tuple[str, ...]) -> bool:
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, hosts)


def request_host(scope: Mapping[str, Any]) -> str | None:
    """The host an ASGI request or handshake is for, as Django reads it: ``X-Forwarded-Host``
    when ``USE_X_FORWARDED_HOST`` is on, else ``Host``, else the server's address. None when
    the scope has none of them: it comes from a caller in the process (Channels'
    ``WebsocketCommunicator``), never from the network, where a server always gives its
    address."""
    if settings.USE_X_FORWARDED_HOST:
        forwarded = _header(scope, b"x-forwarded-host")
        if forwarded is not None:
            return forwarded
    host = _header(scope, b"host")
    if host is not None:
        return host
    server = scope.get("server")
    return f"{server[0]}:{server[1]}" if server else None


def refused_host(scope: Mapping[str, Any]) -> str | None:
    """Why the site does not answer this request or handshake (its host is not allowed),
    logged as Django logs it; None when it does."""
    host = request_host(scope)
    if host is None or host_allowed(host):
        return None
    domain, _port = split_domain_port(host)
    advice = f"You may need to add {domain!r} to ALLOWED_HOSTS." if domain else "It is not valid."
    logger.error("Invalid HTTP_HOST header: %r. %s", host, advice, extra={"status_code": 400})
    return f"host {host!r} is not one this server answers to (ALLOWED_HOSTS)"


def _header(scope: Mapping[str, Any], name: bytes) -> str | None:
    """The header ``name`` (lowercase), a repeated one as its values joined with commas (as
    Django's ASGI request reads it, which no host name matches); None without one."""
    values = [value for header, value in scope.get("headers", ()) if header == name]
    if not values:
        return None
    return ",".join(bytes(value).decode("latin-1") for value in values)
