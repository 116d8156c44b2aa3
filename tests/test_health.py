"""``GET /healthz``: 200 when the database, the channel layer, the broker and a worker are up,
503 when one is down, never slower than its timeout, never telling a secret.

In this process (Django's test client) and against real servers and workers: a PostgreSQL
database that refuses connections (the services pass), a Redis server of the test's own that
is stopped (wherever ``redis-server`` is installed; CI has it), and a worker that dies.
"""

import os
import shutil
import signal
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from steps.http import health
from steps.running.heartbeat import Beat, heartbeats
from tests.helpers.passes import needs_services
from tests.helpers.processes import RedisServer, ServerProcess, Start, TestDatabase, WorkerProcess
from tests.helpers.waiting import eventually

CHECKS = {"database", "channel_layer", "broker", "worker"}
WAIT = 30.0  # seconds for a server or a worker to become healthy (or not)
# Servers and workers of the end-to-end tests: quick heartbeats, a short tolerance.
FAST = {"STEPS_WORKER_HEARTBEAT_INTERVAL": "0.5", "STEPS_HEALTH_WORKER_MAX_AGE": "3"}


# --- in this process ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_healthy_process_answers_200_with_every_check(client: Client, worker: None) -> None:
    response = eventually(
        lambda: (r := client.get("/healthz")).status_code == 200 and r, "a heartbeat", WAIT
    )
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == CHECKS
    assert all(check["status"] == "ok" for check in body["checks"].values())
    worker_check = body["checks"]["worker"]
    assert worker_check["workers"] >= 1
    assert 0 <= worker_check["age_seconds"] < 30
    assert body["checks"]["database"]["vendor"] in {"sqlite", "postgresql"}


@pytest.mark.django_db(transaction=True)
def test_checks_limits_the_answer(client: Client) -> None:
    response = client.get("/healthz?checks=database,channel_layer")
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"database", "channel_layer"}
    unknown = client.get("/healthz?checks=database,disk")
    assert unknown.status_code == 400
    assert "disk" in unknown.json()["detail"]
    assert client.post("/healthz").status_code == 405
    assert client.head("/healthz?checks=database").status_code == 200


def test_a_check_that_hangs_is_down_once_the_timeout_passes(
    client: Client, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.STEPS_HEALTH_CHECK_TIMEOUT = 0.3

    def hang() -> dict[str, Any]:
        time.sleep(3)
        return {}

    monkeypatch.setitem(health.CHECKS, "database", hang)
    monkeypatch.setitem(health.CHECKS, "worker", lambda: {})
    started = time.monotonic()
    response = client.get("/healthz?checks=database,worker")
    assert time.monotonic() - started < 1.5
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {
        "status": "unavailable",
        "error": "no answer within 0.3 s",
    }
    assert body["checks"]["worker"] == {"status": "ok"}


def test_errors_are_named_by_kind_not_by_what_they_say(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> dict[str, Any]:
        raise ConnectionError("redis://:hunter2@10.0.0.7:6379 refused")

    monkeypatch.setitem(health.CHECKS, "broker", broken)
    response = client.get("/healthz?checks=broker")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {
        "status": "unavailable",
        "error": "ConnectionError",
    }
    assert b"hunter2" not in response.content and b"10.0.0.7" not in response.content


def test_a_heartbeat_older_than_the_max_age_is_a_worker_down(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.STEPS_EMBEDDED_WORKER = True  # this process's own heartbeat, not the database's
    settings.STEPS_HEALTH_WORKER_MAX_AGE = 30
    monkeypatch.setattr(heartbeats, "last", Beat("w@h/1", timezone.now() - timedelta(seconds=45)))
    with pytest.raises(health.Down) as down:
        health.check_worker()
    assert down.value.reason == "no worker heartbeat within 30 s"
    assert down.value.detail["workers"] == 0
    assert 45 <= down.value.detail["age_seconds"] < 60
    monkeypatch.setattr(heartbeats, "last", Beat("w@h/1", timezone.now() - timedelta(seconds=5)))
    assert health.check_worker()["workers"] == 1


# --- real servers and workers ---------------------------------------------------------------


def healthz(server: ServerProcess, checks: str = "") -> httpx.Response:
    query = f"?checks={checks}" if checks else ""
    return httpx.get(f"{server.http_url}/healthz{query}", timeout=10)


def test_a_healthy_server_answers_200(database: TestDatabase, start: Start) -> None:
    """The embedded default (the server's own worker), or a server and a `celery worker` on
    Redis in the services pass."""
    env = {**FAST, **database.own_queue}
    server = start(ServerProcess(database, env))
    if os.environ.get("REDIS_URL"):
        start(WorkerProcess(database, env))
    response = eventually(lambda: (r := healthz(server)).status_code == 200 and r, "200", WAIT)
    body = response.json()
    assert set(body["checks"]) == CHECKS
    assert body["checks"]["worker"]["workers"] == 1
    # Nothing of the configuration shows: no URL, no user, no password.
    for secret in (os.environ.get("REDIS_URL"), os.environ.get("DATABASE_URL"), "postgres@"):
        if secret:
            assert secret not in response.text


@needs_services
def test_a_database_that_refuses_connections_is_503(database: TestDatabase, start: Start) -> None:
    env = {**FAST, **database.own_queue}
    server = start(ServerProcess(database, env))
    start(WorkerProcess(database, env))
    eventually(lambda: healthz(server).status_code == 200, "200 before the outage", WAIT)
    database.refuse_connections()
    try:
        started = time.monotonic()
        response = healthz(server)
        assert time.monotonic() - started < 2 + 1.5  # STEPS_HEALTH_CHECK_TIMEOUT, and some
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"]["status"] == "unavailable"
        assert checks["worker"]["status"] == "unavailable"  # its heartbeats are there too
        assert checks["channel_layer"]["status"] == checks["broker"]["status"] == "ok"
    finally:
        database.accept_connections()
    eventually(lambda: healthz(server).status_code == 200, "200 once the database is back", WAIT)


@pytest.fixture
def own_redis(tmp_path: Path, start: Start) -> RedisServer:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    return start(RedisServer(tmp_path))


def test_redis_down_is_503_and_back_is_200(
    database: TestDatabase, start: Start, own_redis: RedisServer
) -> None:
    env = {**FAST, "REDIS_URL": own_redis.url, "CELERY_BROKER_URL": own_redis.url}
    server = start(ServerProcess(database, env))
    start(WorkerProcess(database, env))
    eventually(lambda: healthz(server).status_code == 200, "200 with Redis up", WAIT)

    own_redis.stop()
    started = time.monotonic()
    response = healthz(server, "database,channel_layer,broker")
    assert time.monotonic() - started < 2 + 1.5
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["channel_layer"]["status"] == checks["broker"]["status"] == "unavailable"
    assert checks["database"]["status"] == "ok"

    own_redis.start()  # on the same port
    eventually(lambda: healthz(server).status_code == 200, "200 once Redis is back", WAIT)


def test_a_worker_that_dies_is_503_after_the_max_age(
    database: TestDatabase, start: Start, own_redis: RedisServer
) -> None:
    env = {**FAST, "REDIS_URL": own_redis.url, "CELERY_BROKER_URL": own_redis.url}
    server = start(ServerProcess(database, env))
    worker = start(WorkerProcess(database, env))
    eventually(lambda: healthz(server).status_code == 200, "200 with a worker", WAIT)

    os.kill(worker.pid, signal.SIGKILL)  # no goodbye: only its heartbeats stop
    response = eventually(
        lambda: (r := healthz(server)).status_code == 503 and r, "503", timeout=3 + 5
    )
    body = response.json()["checks"]["worker"]
    assert body["error"] == "no worker heartbeat within 3 s"
    assert body["workers"] == 0
    assert body["age_seconds"] >= 3

    # A worker that stops as it should deletes its heartbeat: no wait for the max age.
    second = start(WorkerProcess(database, env, name="w2"))
    eventually(lambda: healthz(server).status_code == 200, "200 with the second worker", WAIT)
    second.stop()
    assert database.query("SELECT worker FROM steps_workerheartbeat WHERE worker LIKE 'w2@%'") == []
