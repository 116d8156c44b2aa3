"""What a trace records besides its step runs and dead letters, as it happens.

- each committed stream change that carries a trace id (the ``stream_event`` signal, in the
  process that made it): a :class:`~steps.models.TraceEvent` of kind ``change``;
- each message enqueued, once its transaction commits (:func:`steps.running.queue.enqueue`): kind
  ``enqueue``, with the steps it went to and the start of its data;
- how many sockets of this process each change was handed to (:mod:`streams.publishing.reach`,
  counted by the hub): a :class:`~steps.models.SocketReach`, joined to the change by its group and
  version when a trace is read.

On the path that causes them each costs an append to a :class:`~steps.records.pending.PendingRows`
list and no more: the run recorder writes the lists with its next batch of runs, off that path
(:mod:`steps.records.runs`). What is done by hand (``manage.py enqueue`` and ``run_cron``, the
dashboard's forms) goes the same way, then the batch is written at once (:func:`write_now`).
The newest ``STEPS_TRACE_EVENTS_KEPT`` rows of each table are kept; 0 records none.
"""

import os
import socket
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

import orjson
from django.db import transaction

from streams.publishing import StreamEvent

from ..conf import engine_settings
from ..models import SocketReach, TraceEvent
from .pending import PendingRows
from .runs import recorder

# Rows kept in memory while the database cannot take them (per table).
MAX_WAITING = 100_000
# How much of an enqueued message's data a trace keeps (its JSON, in characters).
DATA_PREVIEW_CHARS = 2000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def kept() -> int:
    """How many rows of each trace table are kept (0: trace records are off)."""
    return int(engine_settings.STEPS_TRACE_EVENTS_KEPT)


def change_detail(event: StreamEvent) -> dict[str, Any]:
    """What a change's record says of it."""
    return {
        "stream": event.stream_name,
        "group": event.group_id,
        "item": event.item_id,
        "type": event.type,
        "version": event.version,
    }


def _event_columns(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """(trace_id, kind, milliseconds, step_name, detail or change's event) as TraceEvent's
    columns (the detail of a change is made here, off the path that noted it)."""
    trace_id, kind, at_ms, step_name, detail = row
    if isinstance(detail, StreamEvent):
        detail = change_detail(detail)
    # orjson writes NUL as an escape: the text itself holds none.
    return (trace_id, kind, at_ms, step_name, orjson.dumps(detail, default=str).decode())


def _reach_columns(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """(stream, group, version, sockets, milliseconds) as SocketReach's columns: the process
    is the one writing (each process writes its own counts)."""
    stream_name, group_id, version, sockets, at_ms = row
    process = f"{socket.gethostname()}:{os.getpid()}"
    return (stream_name, group_id, version, sockets, process, at_ms)


events = PendingRows(
    TraceEvent,
    ("trace_id", "kind", "at_ms", "step_name", "detail_json"),
    _event_columns,
    MAX_WAITING,
    kept,
)
reach = PendingRows(
    SocketReach,
    ("stream_name", "group_id", "version", "sockets", "process", "at_ms"),
    _reach_columns,
    MAX_WAITING,
    kept,
)
recorder.add_table(events)
recorder.add_table(reach)


# --- on the paths that cause them: an append each ----------------------------------------------


def record_change(sender: Any, event: StreamEvent, **_: Any) -> None:
    """Receiver of ``streams.signals.stream_event``: a change made within a trace."""
    if event.trace_id and kept():
        # The event itself (frozen): its detail is made when the batch is written.
        events.add((event.trace_id, TraceEvent.Kind.CHANGE, event.timestamp, "", event))


def count_reach(stream_name: str, group_id: str, version: int, sockets: int) -> None:
    """The counter given to :func:`streams.publishing.reach.count_with` (runs on the hub's loop)."""
    if kept():
        reach.add((stream_name, group_id, version, sockets, _now_ms()))


def record_enqueue(
    trace_id: str,
    topic: str,
    steps: Sequence[str],
    encoded: bytes,
    *,
    sender: str = "",
    origin: str = "",
) -> None:
    """A message enqueued to ``steps`` (``encoded``: its data as JSON), recorded once the
    current transaction commits (at once outside one); ``origin`` names who enqueued it by
    hand, when no step did."""
    if not kept():
        return
    text = encoded[:DATA_PREVIEW_CHARS].decode(errors="ignore")
    detail: dict[str, Any] = {"topic": topic, "steps": list(steps), "data": text}
    if len(encoded) > DATA_PREVIEW_CHARS:
        detail["truncated"] = True
    if origin:
        detail["origin"] = origin
    row = (trace_id, TraceEvent.Kind.ENQUEUE, _now_ms(), sender, detail)
    transaction.on_commit(partial(events.add, row))


def record_cron_fire(trace_id: str, step_name: str, expression: str, *, origin: str) -> None:
    """A cron step fired by hand (``origin``: who fired it)."""
    if kept():
        detail = {"expression": expression, "origin": origin}
        events.add((trace_id, TraceEvent.Kind.CRON, _now_ms(), step_name, detail))


def write_now() -> None:
    """Write what waits now, on this thread (after something done by hand, so that the page
    or command that did it can show it at once)."""
    recorder.flush()
