"""A trace's timeline, for the dashboard's trace view: what one trace id caused, in order.

Pure: the rows the view read (step runs, trace events, dead letters, socket counts, frames
still in the replay log) in, one :class:`Entry` per thing that happened out, each placed by
its time (a run by when it started), with its offset from the first and a :class:`Summary`.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ..models import DeadLetter, StepRun, TraceEvent
from .view_models import LogLine, log_line

# (stream, group, version): one change of a group, whatever process saw it.
ChangeKey = tuple[str, str, int]
# What a change's type is called on the page.
_CHANGE_NAMES = {"event": "custom event to"}
# Order of entries at the same moment: the cause first.
_RANK = {"http": 0, "cron": 1, "enqueue": 2, "run": 3, "change": 4, "dead-letter": 5}


@dataclass(frozen=True)
class Reach:
    """The sockets a change was handed to, summed over the processes that counted it."""

    sockets: int
    processes: int


@dataclass(frozen=True)
class Entry:
    """One thing the trace caused. ``kind`` is http (the request's run), run (a queue,
    stream or cron step's attempt), change (a stream change), enqueue, cron (a cron step
    fired by hand) or dead-letter."""

    kind: str
    at: datetime
    title: str
    offset_ms: int = 0
    step_name: str = ""
    status: str = ""
    attempt: int | None = None
    duration_ms: int | None = None
    reach: Reach | None = None  # changes only
    log_lines: tuple[LogLine, ...] = ()
    error: str = ""
    data_json: str = ""  # the item changed, the data enqueued, the dead letter's payload
    dead_letter_id: int | None = None


@dataclass(frozen=True)
class Summary:
    """The trace at a glance."""

    request: str  # "POST /todos → 201", or "" when no http request started it
    runs: int
    failed_runs: int
    changes: int
    sockets: int
    enqueues: int
    dead_letters: int
    started: datetime | None
    span_ms: int


def change_key(detail: Mapping[str, Any]) -> ChangeKey | None:
    """The (stream, group, version) of a change event's detail."""
    try:
        return (str(detail["stream"]), str(detail["group"]), int(detail["version"]))
    except (KeyError, TypeError, ValueError):
        return None


def reaches(rows: Iterable[tuple[str, str, int, int, str]]) -> dict[ChangeKey, Reach]:
    """(stream, group, version, sockets, process) rows, summed per change."""
    sockets: dict[ChangeKey, int] = {}
    processes: dict[ChangeKey, set[str]] = {}
    for stream, group, version, count, process in rows:
        key = (stream, group, version)
        sockets[key] = sockets.get(key, 0) + count
        processes.setdefault(key, set()).add(process)
    return {key: Reach(sockets[key], len(processes[key])) for key in sockets}


def item_of_frame(frame: str) -> Any:
    """The item (or custom event) a replay-log frame carried, or None if it cannot tell."""
    try:
        payload = json.loads(frame)
        event = payload.get("event", {})
        return event.get("data") if event.get("type") != "event" else event.get("event")
    except (ValueError, AttributeError):
        return None


def timeline(
    runs: Sequence[StepRun],
    events: Sequence[TraceEvent],
    letters: Sequence[DeadLetter],
    reach: Mapping[ChangeKey, Reach],
    items: Mapping[ChangeKey, Any],
) -> list[Entry]:
    """Every entry of the trace, in the order things happened."""
    entries = [run_entry(run) for run in runs]
    entries += [event_entry(event, reach, items) for event in events]
    entries += [letter_entry(letter) for letter in letters]
    # To the millisecond (a change's time has no finer grain): a run and the changes it made
    # within that millisecond are in causal order.
    entries.sort(key=lambda entry: (_to_ms(entry.at), _RANK.get(entry.kind, 9), entry.at))
    if not entries:
        return []
    first = entries[0].at
    return [_with_offset(entry, first) for entry in entries]


def summary(entries: Sequence[Entry]) -> Summary:
    runs = [e for e in entries if e.kind in ("http", "run")]
    changes = [e for e in entries if e.kind == "change"]
    http = next((e for e in entries if e.kind == "http"), None)
    last = max((_end(e) for e in entries), default=None)
    started = entries[0].at if entries else None
    span = round((last - started).total_seconds() * 1000) if last and started else 0
    return Summary(
        request=http.title if http else "",
        runs=len(runs),
        failed_runs=sum(1 for e in runs if e.status == StepRun.Status.FAILED),
        changes=len(changes),
        sockets=sum(e.reach.sockets for e in changes if e.reach is not None),
        enqueues=sum(1 for e in entries if e.kind == "enqueue"),
        dead_letters=sum(1 for e in entries if e.kind == "dead-letter"),
        started=started,
        span_ms=span,
    )


# --- one entry per row -------------------------------------------------------------------------


def run_entry(run: StepRun) -> Entry:
    detail = run.detail or {}
    duration = None
    if run.finished_at is not None:
        duration = round((run.finished_at - run.started_at).total_seconds() * 1000)
    if run.kind == "http":
        status = detail.get("status")
        answer = f" → {status}" if status is not None else ""
        title = f"{detail.get('method', 'HTTP')} {detail.get('path', '')}{answer}".strip()
    else:
        title = f"{run.step_name}: {describe_start(run.kind, detail)}"
    return Entry(
        kind="http" if run.kind == "http" else "run",
        at=run.started_at,
        title=title,
        step_name=run.step_name,
        status=run.status,
        attempt=run.attempt,
        duration_ms=duration,
        log_lines=tuple(log_line(line) for line in run.logs or []),
        error=run.error,
    )


def describe_start(kind: str, detail: Mapping[str, Any]) -> str:
    """What started a queue, stream or cron run, from its record's detail."""
    if kind == "queue":
        return f"message of {detail.get('topic', '?')}"
    if kind == "stream":
        where = "/".join(str(detail[k]) for k in ("stream", "group", "item") if detail.get(k))
        return f"{detail.get('type', 'change')} of {where or 'a stream'}"
    if kind == "cron":
        by_hand = f", fired by {detail['origin']}" if detail.get("origin") else ""
        return f"cron {detail.get('expression', '')}{by_hand}"
    return kind


def event_entry(
    event: TraceEvent, reach: Mapping[ChangeKey, Reach], items: Mapping[ChangeKey, Any]
) -> Entry:
    detail = event.detail or {}
    if event.kind == TraceEvent.Kind.CHANGE:
        key = change_key(detail)
        place = " / ".join(
            str(detail.get(k)) for k in ("stream", "group", "item") if detail.get(k) is not None
        )
        item = items.get(key) if key else None
        change = detail.get("type", "change")
        return Entry(
            kind="change",
            at=event.at,
            title=f"{_CHANGE_NAMES.get(change, change)} {place} (version {detail.get('version')})",
            reach=(reach.get(key) if key else None) or Reach(0, 0),
            data_json=_json(item) if item is not None else "",
        )
    if event.kind == TraceEvent.Kind.ENQUEUE:
        by = event.step_name or detail.get("origin") or "?"
        steps = ", ".join(detail.get("steps", ())) or "no step"
        more = " …" if detail.get("truncated") else ""
        return Entry(
            kind="enqueue",
            at=event.at,
            title=f"{by} enqueued {detail.get('topic', '?')} → {steps}",
            step_name=event.step_name,
            data_json=_pretty(str(detail.get("data", ""))) + more,
        )
    by = detail.get("origin", "?")
    return Entry(
        kind="cron",
        at=event.at,
        title=f"{by} fired {event.step_name} (cron {detail.get('expression', '')})",
        step_name=event.step_name,
    )


def letter_entry(letter: DeadLetter) -> Entry:
    return Entry(
        kind="dead-letter",
        at=letter.created_at,
        title=f"dead letter of {letter.step_name} after {letter.attempts} attempt(s)",
        step_name=letter.step_name,
        error=letter.error,
        data_json=_json(letter.payload),
        dead_letter_id=letter.pk,
    )


def _with_offset(entry: Entry, first: datetime) -> Entry:
    offset = (_to_ms(entry.at) - _to_ms(first)).total_seconds() * 1000
    return replace(entry, offset_ms=round(offset))


def _to_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _end(entry: Entry) -> datetime:
    if entry.duration_ms is None:
        return entry.at
    return entry.at + timedelta(milliseconds=entry.duration_ms)


def _pretty(text: str) -> str:
    """JSON text indented, or as it is when it does not parse (a truncated preview)."""
    try:
        return _json(json.loads(text))
    except ValueError:
        return text


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)
