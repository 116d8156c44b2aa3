"""Concurrent writes against a real server (uvicorn, as production runs it): every write
succeeds, nothing is lost, and on PostgreSQL the server keeps to its connection limit."""

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.server import ServerProcess, TestDatabase, _with_database

CONCURRENCY = 64
ROUNDS = 3
POOL_SIZE = 6  # DATABASE_POOL_SIZE of the server: at most this many connections


@contextmanager
def connections_counted(database: TestDatabase) -> Iterator[list[int]]:
    """Sample the server's connections to its database (from the admin database, so that the
    sampling connection is not counted) until the block ends."""
    samples: list[int] = []
    if not database.is_postgres:
        yield samples
        return
    assert database.base_url is not None
    base_url = database.base_url
    stop = threading.Event()

    def sample() -> None:
        sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
        admin = _with_database(base_url, "postgres")
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
            while not stop.is_set():
                row = connection.execute(sql, [database.name]).fetchone()
                assert row is not None
                samples.append(row[0])
                stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield samples
    finally:
        stop.set()
        sampler.join(10)


@pytest.mark.timeout(120)
def test_concurrent_writes_all_succeed_within_the_connection_limit(tmp_path: Path) -> None:
    env = {"DATABASE_POOL_SIZE": str(POOL_SIZE), "STREAMS_DB_THREADS": "3", "LOG_LEVEL": "WARNING"}
    with (
        TestDatabase(tmp_path) as database,
        ServerProcess(database, env, production=True) as server,
    ):

        async def write_all() -> list[int]:
            limits = httpx.Limits(max_connections=CONCURRENCY)
            async with httpx.AsyncClient(base_url=server.http_url, limits=limits) as client:

                async def todo(n: int) -> int:
                    response = await client.post("/todos", json={"description": f"todo {n}"})
                    return response.status_code

                async def increment() -> int:
                    response = await client.post("/counters/hits/increment", json={"by": 1})
                    return response.status_code

                statuses: list[int] = []
                for round in range(ROUNDS):
                    writes = [todo(round * CONCURRENCY + n) for n in range(CONCURRENCY // 2)]
                    writes += [increment() for _ in range(CONCURRENCY // 2)]
                    statuses += await asyncio.gather(*writes)
                return statuses

        with connections_counted(database) as connections:
            statuses = asyncio.run(write_all())
        assert statuses.count(201) == statuses.count(200) == ROUNDS * CONCURRENCY // 2, statuses

        todos = httpx.get(f"{server.http_url}/todos").json()["todos"]
        assert len(todos) == ROUNDS * CONCURRENCY // 2
        counter = httpx.post(f"{server.http_url}/counters/hits/increment", json={"by": 0}).json()
        assert counter["value"] == ROUNDS * CONCURRENCY // 2, "no increment lost"
        if database.is_postgres:
            assert connections, "the connections were sampled"
            assert max(connections) <= POOL_SIZE, connections
