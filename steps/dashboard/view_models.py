"""What the dashboard's template shows: plain frozen dataclasses built from the flows overview,
the stream groups' counts and the step run and dead letter rows.

No I/O: the view reads, these functions reshape what it read (a model instance is only read,
never given attributes of its own).
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..definitions import describe_trigger
from ..models import DeadLetter, StepRun
from .layout import Box, Graph, Link, layout

# A stream this small is watched live as a whole when the dashboard opens.
SMALL_STREAM_GROUPS = 3
SMALL_STREAM_ITEMS = 50


# --- flows --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowView:
    """One flow: its name, how many steps it has, and its graph."""

    name: str
    step_count: int
    graph: Graph


def flow_views(overview: Mapping[str, Any]) -> list[FlowView]:
    """Every flow of a flows overview (:func:`steps.definitions.flows.flows_overview`), laid out."""
    return [flow_view(flow, overview["edges"]) for flow in overview["flows"]]


def flow_view(flow: Mapping[str, Any], edges: Sequence[Mapping[str, Any]]) -> FlowView:
    """One flow of the overview with the edges of the overview that belong to it."""
    names = {step["name"] for step in flow["steps"]}
    own = [
        edge
        for edge in edges
        if edge["flow"] == flow["name"] and edge["from"] in names and edge["to"] in names
    ]
    received = {edge["topic"] for edge in own}
    boxes = [_box(step, received) for step in flow["steps"]]
    links = [Link(edge["from"], edge["to"], edge["topic"], edge["virtual"]) for edge in own]
    return FlowView(flow["name"], len(boxes), layout(boxes, links))


def _box(step: Mapping[str, Any], received: set[str]) -> Box:
    """A step's node: a line per trigger, then the topics it enqueues that no step of the flow
    receives (those that one does are drawn as arrows)."""
    lines = [describe_trigger(trigger) for trigger in step["triggers"]]
    lines += [f"→ {topic}" for topic in step["enqueues"] if topic not in received]
    kind = step["triggers"][0]["type"] if step["triggers"] else "none"
    return Box(step["name"], kind, tuple(lines))


# --- streams ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupCount:
    id: str
    count: int


@dataclass(frozen=True)
class StreamView:
    """A registered stream, its groups with their item counts, and whether the page watches
    it whole from the start."""

    name: str
    groups: tuple[GroupCount, ...]
    items: int
    watch_all: bool


def stream_views(names: Iterable[str], counts: Iterable[tuple[str, str, int]]) -> list[StreamView]:
    """A view of each stream named, from (stream, group, item count) rows in the order the
    groups are to be listed; a stream with no row has no groups yet."""
    groups: dict[str, list[GroupCount]] = {}
    for stream, group, count in counts:
        groups.setdefault(stream, []).append(GroupCount(group, count))
    views = []
    for name in names:
        own = tuple(groups.get(name, ()))
        items = sum(group.count for group in own)
        small = len(own) <= SMALL_STREAM_GROUPS and items <= SMALL_STREAM_ITEMS
        views.append(StreamView(name, own, items, small))
    return views


# --- step runs and dead letters -----------------------------------------------------------------


@dataclass(frozen=True)
class LogLine:
    """One line a step logged during a run."""

    at: datetime | None
    level: str
    msg: str
    fields_json: str


@dataclass(frozen=True)
class RunView:
    """One step run, with how long it took (None while it runs) and its log lines."""

    step_name: str
    kind: str
    worker: str
    trace_id: str
    status: str
    attempt: int
    started_at: datetime
    duration_ms: int | None
    error: str
    log_lines: tuple[LogLine, ...]


@dataclass(frozen=True)
class DeadLetterView:
    """One dead letter, its payload as indented JSON."""

    id: int
    created_at: datetime
    step_name: str
    kind: str
    topic: str
    trace_id: str
    attempts: int
    redriven_at: datetime | None
    error: str
    traceback: str
    payload_json: str


def run_view(run: StepRun) -> RunView:
    duration = None
    if run.finished_at:
        duration = round((run.finished_at - run.started_at).total_seconds() * 1000)
    return RunView(
        step_name=run.step_name,
        kind=run.kind,
        worker=run.worker,
        trace_id=run.trace_id,
        status=run.status,
        attempt=run.attempt,
        started_at=run.started_at,
        duration_ms=duration,
        error=run.error,
        log_lines=tuple(log_line(line) for line in run.logs or []),
    )


def log_line(line: Mapping[str, Any]) -> LogLine:
    """A stored log line (``streams.runtime.logger``'s shape: time, level, msg, fields)."""
    return LogLine(
        at=_when(line.get("time")),
        level=str(line.get("level", "")),
        msg=str(line.get("msg", "")),
        fields_json=json.dumps(line.get("fields") or {}, default=str),
    )


def dead_letter_view(letter: DeadLetter) -> DeadLetterView:
    return DeadLetterView(
        id=letter.pk,
        created_at=letter.created_at,
        step_name=letter.step_name,
        kind=letter.kind,
        topic=letter.topic,
        trace_id=letter.trace_id,
        attempts=letter.attempts,
        redriven_at=letter.redriven_at,
        error=letter.error,
        traceback=letter.traceback,
        payload_json=json.dumps(letter.payload, indent=2, sort_keys=True, default=str),
    )


def _when(seconds: Any) -> datetime | None:
    """A log line's time (seconds since the epoch) as a datetime, or None if it holds none."""
    try:
        return datetime.fromtimestamp(float(seconds), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
