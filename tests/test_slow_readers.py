"""Slow readers and oversized frames against real servers (docs/protocol.md: Slow readers).

A client that stops reading while 1,000 items of 200 KB are written costs the server a bounded
amount of memory, every other subscriber still gets every change, and the stalled one is closed
with 4008 (its ``on_leave`` runs at once) and re-syncs when it comes back. A client frame of
8 MiB is answered with close code 1009 by uvicorn and by ``manage.py runserver`` (daphne).
"""

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.helpers.deployment import LOCAL_PLAIN_HTTP
from tests.helpers.processes import ServerProcess, TestDatabase
from tests.helpers.rawsocket import CLOSE, Frame, RawWebSocket
from tests.helpers.sampling import rss, sampled
from tests.helpers.todo_api import create_large_todos
from tests.helpers.wire import join_message, recv_frame

ITEMS = 1_000
ITEM_BYTES = 200_000
# The bound on the server's memory growth over the writes, stalled reader included
# (docs/protocol.md: Slow readers). Without it the stalled socket held every frame: 260 MB more.
RSS_BOUND = 120 * 1024 * 1024
WAIT = 60.0
# Production-like: DEBUG off (Django keeps every query's SQL while it is on), and a fixed
# malloc threshold, so that frames freed go back to the system and RSS shows what is held.
SERVER_ENV = {**LOCAL_PLAIN_HTTP, "MALLOC_MMAP_THRESHOLD_": "65536", "LOG_LEVEL": "WARNING"}


def join(stream: str, group: str, item: str | None = None) -> str:
    return json.dumps(join_message(stream, group, item))


async def watch(
    url: str, ready: asyncio.Event, left: asyncio.Event, watching: list[int]
) -> set[str]:
    """A subscriber that keeps up: the ids of every todo created, and (in ``watching``) each
    count of the todo group's watchers that the ``todo`` stream's hooks keep in ``inbox``;
    ``ready`` once both sockets have joined, ``left`` once one has left."""
    created: set[str] = set()
    async with websockets.connect(url, max_size=None, open_timeout=WAIT) as socket:
        await socket.send(join("todo", "todos"))
        await socket.send(join("inbox", "watching", "todos"))
        while len(created) < ITEMS:
            frame = await recv_frame(socket, WAIT)
            event = frame["event"]
            if frame["streamName"] == "inbox" and event["type"] in ("sync", "update", "create"):
                watching.append(event["data"]["watching"])
                if watching[-1] == 2:
                    ready.set()
                elif ready.is_set() and watching[-1] == 1:
                    left.set()
            elif event["type"] == "create":
                created.add(event["data"]["id"])
    return created


@pytest.mark.timeout(180)
def test_a_stalled_reader_is_closed_with_4008_in_bounded_memory(tmp_path: Path) -> None:
    with (
        TestDatabase(tmp_path) as database,
        ServerProcess(database, SERVER_ENV, production=True) as server,
    ):
        assert server.process is not None
        stalled = RawWebSocket("127.0.0.1", server.port, receive_buffer=64 * 1024)
        stalled.send_text(join("todo", "todos"))  # and never reads

        async def run() -> tuple[set[str], list[int], list[Frame], float]:
            ready, left = asyncio.Event(), asyncio.Event()
            watching: list[int] = []
            watcher = asyncio.create_task(watch(server.ws_url, ready, left, watching))
            await asyncio.wait_for(ready.wait(), WAIT)
            started = time.monotonic()

            async def read_when_left() -> list[Frame]:
                # Once the server gave up on it (its on_leave ran), it reads again: what the
                # server had handed over, then the close frame.
                await asyncio.wait_for(left.wait(), WAIT)
                return await asyncio.to_thread(stalled.read_all, WAIT)

            reader = asyncio.create_task(read_when_left())
            await create_large_todos(server.http_url, ITEMS, ITEM_BYTES, WAIT)
            return await watcher, watching, await reader, time.monotonic() - started

        pid = server.process.pid
        before = rss(pid)
        with sampled(lambda: rss(pid), every=0.05) as samples:
            created, watching, frames, seconds = asyncio.run(run())
        growth = max(samples) - before

        assert len(created) == ITEMS, "the subscriber that keeps up got every change"
        assert watching[-1] == 1, f"the stalled socket's on_leave ran at once: {watching}"
        assert growth < RSS_BOUND, f"RSS grew {growth / 1e6:.0f} MB in {seconds:.0f} s"

        closes = [frame.close_code for frame in frames if frame.opcode == CLOSE]
        assert closes == [4008], f"{len(frames)} frames, closes {closes}"
        assert len(frames) < 100, "most of the 1,000 frames were never queued for it"

        # It comes back and re-joins: a sync brings it up to date.
        async def rejoin() -> dict[str, Any]:
            async with websockets.connect(server.ws_url, open_timeout=WAIT) as socket:
                await socket.send(join("todo", "todos", item_id))
                return await recv_frame(socket, WAIT)

        item_id = next(iter(created))
        sync = asyncio.run(rejoin())
        assert sync["event"]["type"] == "sync"
        assert sync["event"]["data"]["id"] == item_id


@pytest.mark.parametrize("production", [True, False], ids=["uvicorn", "runserver"])
def test_a_frame_of_8_mib_is_closed_with_1009(tmp_path: Path, production: bool) -> None:
    with (
        TestDatabase(tmp_path) as database,
        ServerProcess(database, {"LOG_LEVEL": "WARNING"}, production=production) as server,
    ):
        client = RawWebSocket("127.0.0.1", server.port)
        client.send_text(json.dumps({"type": "join", "padding": "x" * (8 * 1024 * 1024)}))
        frames = client.read_all(timeout=WAIT)
        assert [frame.close_code for frame in frames if frame.opcode == CLOSE] == [1009]
