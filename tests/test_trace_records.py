"""What a trace records as it happens (``steps.records.traces``): http requests, stream changes,
enqueues, and the sockets each change reached (counted by the hub, ``streams.publishing.reach``),
written in the run recorder's batches; bounded, and off when ``STEPS_TRACE_EVENTS_KEPT`` is 0."""

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from motia_site.asgi import application
from steps.definitions.step_registry import Step
from steps.models import SocketReach, StepRun, TraceEvent
from steps.records import traces
from steps.records.pending import MAX_ROWS_PER_STATEMENT, PendingRows
from steps.records.runs import flush_runs
from steps.records.storable import storable_json
from steps.running.queue import enqueue
from streams import StreamConfig
from streams.publishing import reach
from streams.publishing.events import current_trace_id
from streams.storage.store import Stream, SyncStream
from tests.helpers.waiting import eventually
from tests.helpers.wire import join_message

pytestmark = pytest.mark.django_db(transaction=True)

DefineStep = Callable[..., Step]


@pytest.fixture
def trace() -> Iterator[str]:
    """Changes made in the test carry this trace id (as a handler's do)."""
    token = current_trace_id.set("trace-records")
    yield "trace-records"
    current_trace_id.reset(token)


def changes_of(trace_id: str) -> list[dict[str, Any]]:
    rows = TraceEvent.objects.filter(trace_id=trace_id, kind="change").order_by("id")
    return [row.detail for row in rows]


# --- http requests and stream changes ----------------------------------------------------------


def test_an_http_request_is_recorded_with_its_method_path_status_and_changes(
    client: Client,
) -> None:
    response = client.post(
        "/todos",
        data=json.dumps({"description": "Traced"}),
        content_type="application/json",
        headers={"X-Trace-Id": "trace-http"},
    )
    assert response.status_code == 201
    todo_id = response.json()["todo"]["id"]
    flush_runs()
    run = StepRun.objects.get(trace_id="trace-http", kind="http")
    assert (run.step_name, run.detail) == (
        "CreateTodo",
        {"method": "POST", "path": "/todos", "status": 201},
    )
    first, *_ = changes_of("trace-http")  # then the stream-triggered step's, if it ran
    assert first == {
        "stream": "todo",
        "group": "todos",
        "item": todo_id,
        "type": "create",
        "version": first["version"],
    }


def test_changes_without_a_trace_are_not_recorded(define_stream: Callable[..., Any]) -> None:
    notes = SyncStream(define_stream("notes"))
    notes.set("g", "a", {"n": 1})  # as the admin would: no handler, no trace
    flush_runs()
    # (Steps that earlier tests triggered may still be running: only this stream counts.)
    recorded = [event.detail for event in TraceEvent.objects.all()]
    assert [detail for detail in recorded if detail.get("stream") == "notes"] == []


def test_every_change_of_a_trace_is_recorded_with_its_version(
    define_stream: Callable[..., StreamConfig], trace: str
) -> None:
    notes = SyncStream(define_stream("notes"))
    notes.set("g", "a", {"n": 1})
    notes.update("g", "a", [{"type": "increment", "path": "n", "by": 1}])
    notes.delete("g", "a")
    flush_runs()
    assert changes_of(trace) == [
        {"stream": "notes", "group": "g", "item": "a", "type": t, "version": v}
        for t, v in (("create", 1), ("update", 2), ("delete", 3))
    ]


# --- enqueues and the runs they cause ------------------------------------------------------------


@pytest.mark.usefixtures("worker")
def test_an_enqueue_is_recorded_with_its_sender_steps_and_data(define_step: DefineStep) -> None:
    define_step(name="Sink", triggers=[{"type": "queue", "topic": "t.sink"}])
    source = define_step(
        name="Source",
        triggers=[{"type": "queue", "topic": "t.unused"}],
        enqueues=["t.sink"],
    )
    enqueue({"topic": "t.sink", "data": {"n": 1}}, trace_id="trace-enq", sender=source)

    def ran() -> StepRun | None:
        flush_runs()
        return StepRun.objects.filter(trace_id="trace-enq", status="succeeded").first()

    run = eventually(ran, "the run of Sink", 15)
    assert (run.step_name, run.detail) == ("Sink", {"topic": "t.sink"})
    (sent,) = TraceEvent.objects.filter(trace_id="trace-enq", kind="enqueue")
    assert sent.step_name == "Source"
    assert sent.detail == {"topic": "t.sink", "steps": ["Sink"], "data": '{"n":1}'}


def test_a_long_message_keeps_the_start_of_its_data(define_step: DefineStep) -> None:
    define_step(name="Sink", triggers=[{"type": "queue", "topic": "t.big"}])
    enqueue({"topic": "t.big", "data": "x" * 5000}, trace_id="trace-big")
    flush_runs()
    (sent,) = TraceEvent.objects.filter(trace_id="trace-big")
    assert len(sent.detail["data"]) == traces.DATA_PREVIEW_CHARS
    assert sent.detail["truncated"] is True
    assert sent.detail["steps"] == ["Sink"] and sent.step_name == ""


# --- sockets reached -----------------------------------------------------------------------------


async def joined(stream: str, group: str, item: str | None = None) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, "/")
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to(join_message(stream, group, item))
    assert (await comm.receive_json_from(timeout=5))["event"]["type"] == "sync"
    return comm


async def test_each_change_records_the_sockets_it_reached_once_each(
    define_stream: Callable[..., StreamConfig], trace: str
) -> None:
    notes = Stream(define_stream("notes"))
    group = await joined("notes", "g")
    item = await joined("notes", "g", "a")
    both = await joined("notes", "g")
    await both.send_json_to(join_message("notes", "g", "a"))
    assert (await both.receive_json_from(timeout=5))["event"]["type"] == "sync"
    elsewhere = await joined("notes", "other")

    await notes.set("g", "a", {"n": 1})  # every socket of g gets it, `both` once
    await notes.set("g", "b", {"n": 2})  # the item socket does not watch b
    for comm in (group, item, both):
        assert (await comm.receive_json_from(timeout=5))["id"] == "a"
    for comm in (group, both):
        assert (await comm.receive_json_from(timeout=5))["id"] == "b"
    await sync_to_async(flush_runs)()

    rows = SocketReach.objects.filter(stream_name="notes").order_by("version")
    counts = [(r.group_id, r.version, r.sockets) async for r in rows]
    assert counts == [("g", 1, 3), ("g", 2, 2)]  # no row for a change no socket watched
    for comm in (group, item, both, elsewhere):
        await comm.disconnect()


def test_the_hub_reports_nothing_without_a_counter() -> None:
    counted: list[tuple[str, str, int, int]] = []
    reach.count_with(lambda *args: counted.append(args))
    try:
        reach.reached(("s", "g"), 4, 2)
        reach.reached(("s", "g"), 5, 0)  # reached no socket: not reported
        reach.count_with(None)
        reach.reached(("s", "g"), 6, 1)
    finally:
        reach.count_with(traces.count_reach)
    assert counted == [("s", "g", 4, 2)]


# --- bounded, and off at 0 -----------------------------------------------------------------------


def test_no_trace_records_when_none_are_kept(
    settings: Any, define_stream: Callable[..., StreamConfig], trace: str
) -> None:
    settings.STEPS_TRACE_EVENTS_KEPT = 0
    SyncStream(define_stream("notes")).set("g", "a", {"n": 1})
    traces.count_reach("notes", "g", 1, 3)
    flush_runs()
    assert not TraceEvent.objects.exists() and not SocketReach.objects.exists()


def test_the_trace_tables_keep_their_newest_rows(settings: Any) -> None:
    settings.STEPS_TRACE_EVENTS_KEPT = 3
    for version in range(1, 6):
        traces.count_reach("notes", "g", version, 1)
    flush_runs()
    traces.reach.prune()
    kept = SocketReach.objects.order_by("version").values_list("version", flat=True)
    assert list(kept) == [3, 4, 5]


def test_more_rows_than_one_statement_takes_are_all_written(settings: Any) -> None:
    """Rows that waited while the database was away go in several statements, in order."""
    settings.STEPS_TRACE_EVENTS_KEPT = 10_000
    count = 2 * MAX_ROWS_PER_STATEMENT + 7
    for version in range(1, count + 1):
        traces.count_reach("notes", "backlog", version, version % 5 + 1)
    flush_runs()
    rows = SocketReach.objects.filter(group_id="backlog").order_by("id")
    assert [(row.version, row.sockets) for row in rows] == [
        (version, version % 5 + 1) for version in range(1, count + 1)
    ]


def test_rows_waiting_are_bounded_and_put_back_first() -> None:
    rows = PendingRows(SocketReach, ("version",), lambda row: row, limit=3, keep=lambda: 10)
    woken: list[bool] = []
    rows.on_first(lambda: woken.append(True))
    for n in range(5):
        rows.add((n,))
    assert woken == [True]  # once, when the first row arrived
    taken = rows.take()
    assert taken == [(2,), (3,), (4,)]  # the oldest went beyond the limit
    rows.add((5,))
    rows.put_back(taken)  # a write that failed: first in line again
    assert rows.take() == [(3,), (4,), (5,)]


# --- what the database can keep ------------------------------------------------------------------


def test_a_backslash_before_u0000_is_text_and_a_nul_is_replaced() -> None:
    escaped = {"data": '{"text":"a\\u0000b"}'}  # JSON text: a backslash, then u0000
    assert storable_json(escaped) == escaped
    assert storable_json({"k\x00": ["a\x00b", 1, None]}) == {"k\ufffd": ["a\ufffdb", 1, None]}
