"""The engine's background threads start and stop in one place (streams.runtime.lifecycle): stopped,
the engine leaves no thread behind, and it starts again in the same process, its writes and
step runs working as before."""

import gc
import importlib
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from steps.definitions.step_registry import Step
from steps.http.health import run_checks
from steps.models import StepRun
from steps.running.queue import enqueue
from steps.running.worker import embedded_worker_runs, start_worker_thread
from streams import StreamConfig
from streams.runtime import lifecycle
from streams.runtime.hooks import run_plain
from streams.storage.store import Stream, Streams, SyncStream
from tests.helpers.waiting import eventually

WAIT = 15.0


DOCUMENTED_ORDER = [  # docs/architecture.md: Starting and stopping
    "reloading",
    "embedded-beat",
    "embedded-worker",
    "worker-heartbeat",
    "health",
    "sync-threads",
    "step-runs",
    "database",
    "checkpoints",
    "step-sender",
    "stream-publisher",
]


def test_the_stop_order_is_the_documented_one() -> None:
    # The modules that register services as they are imported (runserver's watch registers
    # as it starts).
    for module in (
        "steps.http.health",
        "steps.records.runs",
        "steps.running.heartbeat",
        "steps.running.sending",
        "steps.running.worker",
        "streams.publishing.broadcast",
        "streams.runtime.checkpoints",
        "streams.runtime.db",
        "streams.runtime.hooks",
    ):
        importlib.import_module(module)
    order = [service.name for service in lifecycle.stop_order()]
    assert order == [name for name in DOCUMENTED_ORDER if name in order]
    assert set(DOCUMENTED_ORDER) - set(order) <= {"reloading"}


def new_threads(before: set[threading.Thread]) -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t not in before and t.is_alive())


def use_the_engine(round: int) -> None:
    """Start the worker, then write, call, check and run a step: every service at work."""
    start_worker_thread(beat=False)
    # A write through the database threads, a plain call, the health checks' threads.
    notes = Streams().lifenotes
    assert isinstance(notes, Stream)
    written = async_to_sync(notes.set)("g", f"w{round}", {"n": round})
    assert written["new_value"] == {"id": f"w{round}", "n": round}
    assert async_to_sync(run_plain)(lambda: round) == round
    assert async_to_sync(run_checks)(["database"])["database"]["status"] == "ok"
    # The worker's heartbeats (written to the database on a real broker) are back.
    eventually(
        lambda: async_to_sync(run_checks)(["worker"])["worker"]["status"] == "ok",
        "a worker heartbeat",
        WAIT,
    )
    # A step run: sent by the sender, run by the worker, recorded by the recorder.
    note = str(uuid.uuid4())
    enqueue({"topic": "life.note", "data": {"id": note, "round": round}}, trace_id=note)
    stream = Streams(sync=True).lifenotes
    assert isinstance(stream, SyncStream)
    eventually(lambda: stream.get("g", note), "the step ran", WAIT)
    eventually(
        lambda: StepRun.objects.filter(trace_id=note, status="succeeded").exists(),
        "the run was recorded",
        WAIT,
    )


@pytest.mark.django_db(transaction=True)
def test_stopped_twice_no_thread_is_left_and_the_engine_starts_again(
    define_stream: Callable[..., StreamConfig], define_step: Callable[..., Step]
) -> None:
    define_stream("lifenotes")

    async def handler(input: dict[str, Any], ctx: Any) -> None:
        await ctx.streams.lifenotes.set("g", input["id"], {"round": input["round"]})

    define_step(handler, name="LifeNote", triggers=[{"type": "queue", "topic": "life.note"}])
    was_running = embedded_worker_runs()
    lifecycle.stop()
    before = set(threading.enumerate())
    try:
        for round in (1, 2):
            use_the_engine(round)
            assert {"database", "embedded-worker", "step-sender", "step-runs"} <= set(
                lifecycle.running()
            )
            assert "embedded-celery-worker" in new_threads(before)

            lifecycle.stop()
            assert lifecycle.running() == []
            assert new_threads(before) == [], f"round {round}"
    finally:
        if was_running:  # the session's worker (tests/conftest.py), for the tests after
            start_worker_thread(beat=False)


def test_the_lifespan_startup_sets_the_collector_up_for_serving() -> None:
    # What exists when the server starts the application is frozen (gc.freeze): a full
    # collection no longer walks it; what is made afterwards is collected as before, its
    # young generation every YOUNG_THRESHOLD allocations.
    gc.unfreeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(700, thresholds[1], thresholds[2])
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    loaded = _Cyclic()
    try:
        async_to_sync(lifecycle.lifespan)({"type": "lifespan"}, receive, send)
        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        assert gc.get_freeze_count() > 0
        assert not any(o is loaded for o in gc.get_objects())  # frozen: not seen
        made_later = _Cyclic()
        assert any(o is made_later for o in gc.get_objects())  # collected as before
        assert gc.get_threshold() == (lifecycle.YOUNG_THRESHOLD, *thresholds[1:])
        # A project's own higher threshold stays.
        gc.set_threshold(100_000, *thresholds[1:])
        lifecycle.tune_collector()
        assert gc.get_threshold()[0] == 100_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


class _Cyclic:
    def __init__(self) -> None:
        self.me = self
