"""The dashboard's trace view: everything one trace id caused, in order (``timeline``), and
the search that finds a trace from its id or the start of it."""

from datetime import timedelta
from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from streams.models import StreamLogEntry
from streams.sockets import page_token

from ..models import DeadLetter, SocketReach, StepRun, TraceEvent
from ..running import TRACE_ID
from .timeline import (
    ChangeKey,
    Summary,
    change_key,
    item_of_frame,
    reaches,
    summary,
    timeline,
)

TRACE_LIMIT = 500
"""How many rows of each kind the trace view reads for one trace."""
SEARCH_LIMIT = 20
"""How many trace ids a search lists."""
LIVE_SECONDS = 15
"""A trace whose last entry is younger than this is followed live by its page."""
GROUPS_PER_QUERY = 50
"""Stream groups looked up per query when the trace view reads socket counts and items."""


def _reach_and_items(events: list[TraceEvent]) -> tuple[dict[ChangeKey, Any], dict[ChangeKey, Any]]:
    """The sockets each change of ``events`` reached, and its item when the replay log still
    has its frame (one query each, by the changes' groups and versions)."""
    versions: dict[tuple[str, str], set[int]] = {}
    for event in events:
        key = change_key(event.detail or {})
        if key is not None:
            versions.setdefault(key[:2], set()).add(key[2])
    rows: list[tuple[str, str, int, int, str]] = []
    items: dict[ChangeKey, Any] = {}
    groups = list(versions.items())
    for start in range(0, len(groups), GROUPS_PER_QUERY):
        where = Q()
        for (stream, group), numbers in groups[start : start + GROUPS_PER_QUERY]:
            where |= Q(stream_name=stream, group_id=group, version__in=sorted(numbers))
        rows += SocketReach.objects.filter(where).values_list(
            "stream_name", "group_id", "version", "sockets", "process"
        )
        frames = StreamLogEntry.objects.filter(where).values_list(
            "stream_name", "group_id", "version", "frame"
        )
        items.update(((s, g, v), item_of_frame(frame)) for s, g, v, frame in frames)
    return reaches(rows), items


def is_live(at_a_glance: Summary, running: bool) -> bool:
    """Whether the trace may still grow: a run is going, nothing is recorded yet, or the
    last thing happened less than :data:`LIVE_SECONDS` ago (retries, runs not written yet)."""
    if running or at_a_glance.started is None:
        return True
    last = at_a_glance.started + timedelta(milliseconds=at_a_glance.span_ms)
    return timezone.now() - last < timedelta(seconds=LIVE_SECONDS)


@staff_member_required
@require_GET
def trace(request: HttpRequest, trace_id: str) -> HttpResponse:
    """Everything one trace caused, in order (``?partial=1``: the timeline alone, for the
    page's refresh)."""
    runs = list(
        StepRun.objects.filter(trace_id=trace_id).order_by("started_at", "id")[:TRACE_LIMIT]
    )
    events = list(
        TraceEvent.objects.filter(trace_id=trace_id).order_by("at_ms", "id")[:TRACE_LIMIT]
    )
    letters = list(
        DeadLetter.objects.filter(trace_id=trace_id).order_by("created_at")[:TRACE_LIMIT]
    )
    reach, items = _reach_and_items(events)
    entries = timeline(runs, events, letters, reach, items)
    at_a_glance = summary(entries)
    context = {
        "trace_id": trace_id,
        "entries": entries,
        "summary": at_a_glance,
        "live": is_live(at_a_glance, any(run.status == StepRun.Status.RUNNING for run in runs)),
        "truncated": max(len(runs), len(events), len(letters)) >= TRACE_LIMIT,
        "limit": TRACE_LIMIT,
        "stream_token": page_token(request),
    }
    template = "steps/_timeline.html" if request.GET.get("partial") else "steps/trace.html"
    return render(request, template, context)


@staff_member_required
@require_GET
def find_trace(request: HttpRequest) -> HttpResponse:
    """``?q=``: the trace of that id, or the traces whose id starts with it."""
    query = request.GET.get("q", "").strip()
    context: dict[str, Any] = {"query": query, "matches": [], "stream_token": page_token(request)}
    if not query:
        return render(request, "steps/traces.html", context)
    if not TRACE_ID.match(query):
        context["error"] = (
            "A trace id is 1 to 128 letters, digits, '.', '_', ':' or '-' "
            "(as in a response's X-Trace-Id header)."
        )
        return render(request, "steps/traces.html", context, status=400)
    matches = trace_ids_starting_with(query)
    if query in matches or len(matches) <= 1:
        # The id itself, or the one it starts; an id with nothing recorded yet opens its
        # (empty) page, which shows what arrives.
        found = query if query in matches or not matches else matches[0]
        return redirect("dashboard-trace", trace_id=found)
    context["matches"] = matches
    return render(request, "steps/traces.html", context)


def trace_ids_starting_with(prefix: str) -> list[str]:
    """Recorded trace ids that start with ``prefix`` (the exact one first), at most
    :data:`SEARCH_LIMIT`."""
    found: set[str] = set()
    for model in (StepRun, TraceEvent):
        ids = model.objects.filter(trace_id__startswith=prefix).values_list("trace_id", flat=True)
        found.update(ids.distinct()[:SEARCH_LIMIT])
    return sorted(found, key=lambda id: (id != prefix, id))[:SEARCH_LIMIT]
