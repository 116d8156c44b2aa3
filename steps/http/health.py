"""``GET /healthz``: whether this server process and what it depends on are up.

Four checks, each a plain function that raises when what it checks is down:

- ``database``: a ``SELECT 1`` on a connection of this process (from its pool on PostgreSQL);
- ``channel_layer``: a ``PING`` to each Redis host of the channel layer (the in-memory layer
  lives in this process: nothing to reach);
- ``broker``: a connection to the Celery broker (the embedded broker lives in this process);
- ``worker``: the newest worker heartbeat (:mod:`steps.running.heartbeat`) is younger than
  ``STEPS_HEALTH_WORKER_MAX_AGE``: read from the database on a real broker, from this process's
  own embedded worker otherwise (that worker is the only one that runs its steps).

They run concurrently in threads and each counts as down when it has not answered within
``STEPS_HEALTH_CHECK_TIMEOUT``, so the answer never waits longer than that for a service that hangs.
The answer is 200 when every check passed, 503 otherwise, with a JSON body saying which and
why; errors are named by kind only (what failed, never a host, a user or a URL), the details
go to the log. ``?checks=database,channel_layer`` limits the answer to those checks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from streams.runtime import lifecycle

from ..conf import engine_settings
from ..running import heartbeats

logger = logging.getLogger("steps.health")

Detail = dict[str, Any]


def _start() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="health")


def _stop(executor: ThreadPoolExecutor) -> None:
    executor.shutdown(wait=True, cancel_futures=True)


# Checks that hang keep their thread until their own socket timeout; later requests find the
# threads busy and count those checks as down. Started by the first check
# (streams.runtime.lifecycle).
_executor = lifecycle.register("health", lifecycle.Stage.SIDE, _start, _stop)
# The last status of each check, so that an outage is logged when it starts and ends, not at
# every call of a load balancer.
_last_status: dict[str, str] = {}


class Down(Exception):
    """A check found its service down: ``reason`` is said in the answer with ``detail``."""

    def __init__(self, reason: str, detail: Detail | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail or {}


def _timeout() -> float:
    return engine_settings.STEPS_HEALTH_CHECK_TIMEOUT


def check_database() -> Detail:
    from django.db import connections

    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()  # back to the pool: health threads keep no connection
    return {"vendor": connection.vendor}


def _redis_client(host: Any, timeout: float) -> Any:
    """A redis-py client for a channels_redis ``hosts`` entry (a URL, a dict of options with
    an optional ``address`` URL, or a ``(host, port)`` pair)."""
    import redis

    timeouts: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    if isinstance(host, str):
        return redis.Redis.from_url(host, **timeouts)
    if isinstance(host, dict):
        options = {**host, **timeouts}
        address = options.pop("address", None)
        return redis.Redis.from_url(address, **options) if address else redis.Redis(**options)
    hostname, port = host
    return redis.Redis(host=hostname, port=port, **timeouts)


def check_channel_layer() -> Detail:
    config = settings.CHANNEL_LAYERS["default"]
    backend = str(config["BACKEND"]).rsplit(".", 1)[-1]
    hosts = config.get("CONFIG", {}).get("hosts") or []
    for host in hosts:
        client = _redis_client(host, _timeout())
        try:
            client.ping()
        finally:
            client.close()
    return {"backend": backend}


def check_broker() -> Detail:
    if engine_settings.STEPS_EMBEDDED_WORKER:
        return {"backend": "memory"}
    from celery import current_app
    from kombu import Connection

    timeout = _timeout()
    options = {
        **(current_app.conf.broker_transport_options or {}),
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
    }
    with Connection(
        current_app.conf.broker_url, connect_timeout=timeout, transport_options=options
    ) as connection:
        # One attempt. The stubs (celery-types) want an int timeout; kombu takes any seconds.
        connection.ensure_connection(max_retries=0, timeout=timeout)  # type: ignore[arg-type]
        return {"backend": connection.transport_cls}


def _newest_heartbeat() -> tuple[datetime | None, int]:
    """The newest heartbeat of any worker, and how many workers beat within the max age."""
    max_age = engine_settings.STEPS_HEALTH_WORKER_MAX_AGE
    now = timezone.now()
    if engine_settings.STEPS_EMBEDDED_WORKER:
        beat = heartbeats.last
        last = beat.at if beat else None
        return last, int(last is not None and (now - last).total_seconds() <= max_age)
    from django.db import connections
    from django.db.models import Count, Max, Q

    from ..models import WorkerHeartbeat

    try:
        row = WorkerHeartbeat.objects.aggregate(
            last=Max("last_seen"),
            fresh=Count("id", filter=Q(last_seen__gte=now - timedelta(seconds=max_age))),
        )
    finally:
        connections["default"].close()
    return row["last"], row["fresh"]


def check_worker() -> Detail:
    last, fresh = _newest_heartbeat()
    age = (timezone.now() - last).total_seconds() if last else None
    detail = {
        "last_heartbeat": last.isoformat() if last else None,
        "age_seconds": round(age, 1) if age is not None else None,
        "workers": fresh,
    }
    if not fresh:
        max_age = engine_settings.STEPS_HEALTH_WORKER_MAX_AGE
        raise Down(f"no worker heartbeat within {max_age:g} s", detail)
    return detail


CHECKS: dict[str, Callable[[], Detail]] = {
    "database": check_database,
    "channel_layer": check_channel_layer,
    "broker": check_broker,
    "worker": check_worker,
}


def _run(name: str, check: Callable[[], Detail]) -> Detail:
    """``{"status": "ok", ...}`` or ``{"status": "unavailable", "error": ...}``; never raises."""
    try:
        return {"status": "ok", **check()}
    except Down as down:
        _log_down(name, down.reason)
        return {"status": "unavailable", "error": down.reason, **down.detail}
    except Exception as error:
        _log_down(name, f"{type(error).__name__}: {error}")
        return {"status": "unavailable", "error": type(error).__name__}


def _log_down(name: str, reason: str) -> None:
    if _last_status.get(name) != "unavailable":
        logger.warning("health: %s is unavailable: %s", name, reason)
    _last_status[name] = "unavailable"


def _log_up(name: str) -> None:
    if _last_status.get(name) == "unavailable":
        logger.warning("health: %s is available again", name)
    _last_status[name] = "ok"


async def run_checks(names: Iterable[str], timeout: float | None = None) -> dict[str, Detail]:
    """The outcome of each named check, within ``timeout`` seconds in all."""
    timeout = _timeout() if timeout is None else timeout
    loop = asyncio.get_running_loop()
    executor = _executor.ensure()
    futures = {name: loop.run_in_executor(executor, _run, name, CHECKS[name]) for name in names}
    if futures:
        await asyncio.wait(futures.values(), timeout=timeout)
    results: dict[str, Detail] = {}
    for name, future in futures.items():
        if future.done():
            results[name] = future.result()
        else:
            future.cancel()  # a check still queued never starts; one running ends on its own
            _log_down(name, f"no answer within {timeout:g} s")
            results[name] = {"status": "unavailable", "error": f"no answer within {timeout:g} s"}
        if results[name]["status"] == "ok":
            _log_up(name)
    return results


def _json(body: Any, status: int) -> HttpResponse:
    response = HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


async def healthz(request: HttpRequest) -> HttpResponse:
    """200 when every check passes, 503 when one does not; no login (load balancers call it).

    Served as step endpoints are (without middleware, see motia_site/urls.py), so that a load
    balancer calling a server by its address over plain HTTP gets this answer rather than a
    refused ``Host`` or a redirect to HTTPS."""
    if request.method not in ("GET", "HEAD"):
        response = _json({"detail": "method not allowed"}, 405)
        response["Allow"] = "GET, HEAD"
        return response
    wanted = [n.strip() for n in request.GET.get("checks", "").split(",") if n.strip()]
    unknown = [n for n in wanted if n not in CHECKS]
    if unknown:
        known = ", ".join(CHECKS)
        return _json({"detail": f"unknown checks: {', '.join(unknown)} (known: {known})"}, 400)
    results = await run_checks(wanted or CHECKS)
    healthy = all(result["status"] == "ok" for result in results.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": results}
    return _json(body, 200 if healthy else 503)
