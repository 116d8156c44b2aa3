"""A group of 200 MB (1,000 todos of 200 KB) on a real server, as production runs it (uvicorn;
PostgreSQL and Redis in the services pass): docs/protocol.md, Large groups.

- Our Python client (64 MiB frame limit) and our JavaScript client under Node (``ws``, 100 MiB)
  sync it: a sync in pages, each within their limits; the server's memory grows by a few
  pages for the join, not by the group.
- A client of ours re-joining from version 0 gets the 1,000 frames it missed (200 MB) as fast
  as it reads them, never closed as a slow reader.
- Clients that take no pages (Motia's published ones) get a ``group_too_large`` error frame
  and no subscription: never a part of the group that looks whole.

The group is written once for the module (about 20 s); each test then takes a few seconds.
"""

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import websockets

from streams.client.state import GroupState, StreamMessage
from streams.client.stream_client import StreamClient
from tests.helpers.deployment import LOCAL_PLAIN_HTTP
from tests.helpers.node import node_with_packages
from tests.helpers.processes import ROOT, ServerProcess, Start, TestDatabase, logs_on_failure
from tests.helpers.sampling import rss, sampled
from tests.helpers.todo_api import create_large_todos
from tests.helpers.wire import join_message, recv_frame
from tests.test_e2e import group_spec, node_client

ITEMS = 1_000
ITEM_BYTES = 200_000
# What one join of the group may add to the server's memory at its peak: a few pages (of
# 1 MiB) read, decoded and encoded, and what the allocator keeps. Without pages the join built
# one frame of the whole group: 570 MB more.
JOIN_RSS_BOUND = 48 * 1024 * 1024
WAIT = 60.0
SERVER_ENV = {**LOCAL_PLAIN_HTTP, "MALLOC_MMAP_THRESHOLD_": "65536", "LOG_LEVEL": "WARNING"}
OUR_NODE_CLIENT = ROOT / "tests" / "e2e" / "our_client_group.mjs"
MOTIA_NODE_CLIENT = ROOT / "tests" / "e2e" / "motia_node_client.mjs"


@pytest.fixture(scope="module")
def _big_group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, set]]:
    with (
        TestDatabase(tmp_path_factory.mktemp("big")) as database,
        ServerProcess(database, SERVER_ENV, production=True) as server,
    ):
        ids = asyncio.run(create_large_todos(server.http_url, ITEMS, ITEM_BYTES, WAIT))
        yield server, set(ids)


@pytest.fixture
def big_group(
    request: pytest.FixtureRequest, _big_group: tuple[ServerProcess, set]
) -> Iterator[tuple[ServerProcess, set[str]]]:
    """A server (shared by the module) whose group todo/todos holds 1,000 todos of 200 KB;
    and their ids."""
    with logs_on_failure(request, [_big_group[0]]):
        yield _big_group


class Memory:
    """The server's RSS before a block and at its peak (sampled every 20 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = rss(pid)
        self.samples: list[int] = []

    @property
    def growth(self) -> int:
        return max(self.samples, default=self.before) - self.before

    def __str__(self) -> str:
        peak = max(self.samples, default=self.before)
        return f"server RSS {self.before / 2**20:.0f} MiB, at the peak {peak / 2**20:.0f} MiB"


async def test_our_python_client_syncs_it_in_bounded_memory(
    big_group: tuple[ServerProcess, set[str]],
) -> None:
    server, ids = big_group
    assert server.process is not None
    memory = Memory(server.process.pid)
    with sampled(lambda: rss(memory.pid), every=0.02) as memory.samples:
        started = time.monotonic()
        async with StreamClient(server.ws_url, reconnect=False) as client:
            states: list[int] = []
            todos = client.group("todo", "todos")
            todos.on("*", lambda state: states.append(len(state)))
            state = await todos.wait_for(lambda state: len(state) == ITEMS, WAIT)
            seconds = time.monotonic() - started
    after = rss(memory.pid)
    print(
        f"\n200 MB group, Python client: synced in {seconds:.1f} s; {memory}, after "
        f"{after / 2**20:.0f} MiB"
    )
    assert {todo["id"] for todo in state} == ids
    assert all(len(todo["description"]) == ITEM_BYTES + 5 for todo in state)
    assert states == [ITEMS], "one state, the whole group: no part of it shown"
    assert memory.growth < JOIN_RSS_BOUND, str(memory)


async def test_our_javascript_client_syncs_it(big_group: tuple[ServerProcess, set[str]]) -> None:
    server, ids = big_group
    node_with_packages("run our JavaScript client")
    process = await asyncio.create_subprocess_exec(
        "node",
        str(OUR_NODE_CLIENT),
        server.ws_url,
        "todo",
        "todos",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), WAIT)
    records = [json.loads(line) for line in out.decode().splitlines()]
    assert process.returncode == 0, (records, err.decode()[-2000:])
    (synced,) = [record for record in records if "sync" in record]
    assert synced["sync"] == ITEMS
    assert set(synced["ids"]) == ids
    assert synced["bytes"] > ITEMS * ITEM_BYTES


async def test_a_fast_reader_replays_every_frame_it_missed(
    big_group: tuple[ServerProcess, set[str]],
) -> None:
    """A client of ours that took version 0 (before the 1,000 todos) re-joins: the log holds
    them all (200 MB), and it gets them, paced by its reading, then ``replayed``."""
    server, ids = big_group
    assert server.process is not None
    memory = Memory(server.process.pid)
    join = join_message("todo", "todos", extra={"sinceVersion": 0, "syncPages": True})
    with sampled(lambda: rss(memory.pid), every=0.02) as memory.samples:
        async with websockets.connect(server.ws_url, max_size=2**24, open_timeout=WAIT) as ws:
            started = time.monotonic()
            await ws.send(json.dumps(join))
            created: list[str] = []
            while (frame := await recv_frame(ws, WAIT))["event"]["type"] == "create":
                created.append(frame["id"])
            seconds = time.monotonic() - started
    print(f"\n200 MB replay: {seconds:.1f} s; {memory}")
    assert (frame["event"]["type"], frame["version"]) == ("replayed", ITEMS)
    assert len(created) == ITEMS and set(created) == ids
    assert memory.growth < JOIN_RSS_BOUND, str(memory)


async def test_clients_that_take_no_pages_get_an_error_and_no_part(
    big_group: tuple[ServerProcess, set[str]],
) -> None:
    server, _ = big_group
    async with websockets.connect(server.ws_url, max_size=2**24, open_timeout=WAIT) as ws:
        await ws.send(json.dumps(join_message("todo", "todos")))  # as Motia's clients join
        error = await recv_frame(ws, WAIT)
        assert (error["streamName"], error["groupId"]) == ("todo", "todos")
        assert error["event"]["type"] == "error"
        assert error["event"]["data"]["code"] == "group_too_large"
        async with server.http_client(WAIT) as http:
            response = await http.post("/todos", json={"description": "one more"})
            assert response.status_code == 201
            await http.delete(f"/todos/{response.json()['todo']['id']}")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 1.0)  # not subscribed: no change comes

    # Motia's published Node client: no state besides its first, empty one, and its socket
    # stays up (no frame too large for it, no reconnecting).
    node_with_packages("run Motia's published Node client")
    async with node_client(MOTIA_NODE_CLIENT, server.ws_url, group_spec()) as motia:
        assert await motia.next_record(WAIT) == {"socket": "open"}
        with pytest.raises(TimeoutError):
            await motia.next_record(3.0)
        assert motia.states == {}


async def test_a_sync_in_pages_amid_changes_is_the_group_at_one_version(
    database: TestDatabase, start: Start
) -> None:
    """Pages of 64 KiB: a group of 20 MB is synced in about 300 pages while todos are
    created, completed and deleted. The state our client shows at the sync is the group as it
    was at one version (rebuilt from the replay log), one after the join; and once the
    changes stop, the database's."""
    # A log that keeps every version, to rebuild the group at each.
    env = {**SERVER_ENV, "STREAMS_SYNC_PAGE_BYTES": "65536", "STREAMS_REPLAY_LOG_SIZE": "100000"}
    server = start(ServerProcess(database, env, production=True))
    async with server.http_client(WAIT) as http:
        created = [
            (await http.post("/todos", json={"description": f"{n} " + "y" * 20_000})).json()
            for n in range(1000)
        ]
        ids = [todo["todo"]["id"] for todo in created]
        stop = asyncio.Event()

        async def change(n: int) -> None:
            if n % 3 == 0:
                await http.post("/todos", json={"description": f"new {n}"})
            elif n % 3 == 1:
                await http.patch(f"/todos/{ids[n]}/complete")
            else:
                await http.delete(f"/todos/{ids[n]}")

        async def changing() -> int:
            n = 0
            while not stop.is_set():
                await change(n)
                n += 1
            return n

        writer = asyncio.create_task(changing())
        await asyncio.sleep(0.2)
        async with StreamClient(server.ws_url, reconnect=False) as client:
            todos = client.group("todo", "todos")
            syncs: list[list[dict[str, Any]]] = []
            todos.on("sync", syncs.append)
            await todos.wait_for(lambda _: bool(syncs), WAIT)
            await asyncio.sleep(0.2)
            stop.set()
            changes = await writer
            final = (await http.get("/todos")).json()["todos"]
            await todos.wait_for(lambda state: state == final, WAIT)

    states = group_states(database)
    assert syncs[0] in states[1000 + 1 :], "the group at one version, after the join"
    assert changes > 10 and len(states) > 1000 + 10


def group_states(database: TestDatabase) -> list[list[dict[str, Any]]]:
    """The todo group at each version (index), rebuilt from its replay log."""
    rows = database.query(
        "SELECT frame FROM streams_streamlogentry"
        " WHERE stream_name = 'todo' AND group_id = 'todos' ORDER BY version"
    )
    group = GroupState()
    states: list[list[dict[str, Any]]] = [[]]
    for (frame,) in rows:
        group.apply(StreamMessage.from_json(json.loads(frame)))
        states.append(group.state)
    return states
