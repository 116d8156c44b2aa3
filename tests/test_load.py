"""Concurrent writes against a real server (uvicorn, as production runs it): every write
succeeds, nothing is lost, and on PostgreSQL the server keeps to its connection limit."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.helpers.processes import ServerProcess, TestDatabase
from tests.helpers.sampling import sampled

CONCURRENCY = 64
ROUNDS = 3
POOL_SIZE = 6  # DATABASE_POOL_SIZE of the server: at most this many connections


@contextmanager
def connections_counted(database: TestDatabase) -> Iterator[list[int]]:
    """Sample the server's connections to its database (from the admin database, so that the
    sampling connection is not counted) until the block ends."""
    if not database.is_postgres:
        yield []
        return
    sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
    with psycopg.connect(database.admin_url, autocommit=True, connect_timeout=5) as connection:

        def count() -> int:
            row = connection.execute(sql, [database.name]).fetchone()
            assert row is not None
            return int(row[0])

        with sampled(count, every=0.02) as samples:
            yield samples


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
