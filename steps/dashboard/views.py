"""The dashboard's pages: the overview (flows, streams, forms that run a step now, recent dead
letters and step runs), the forms' actions, and the trace view with its search."""

from datetime import timedelta
from typing import Any, TypeVar

from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count, Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_POST

from steps.flows import flows_overview
from steps.manual import TRACE_ID, ManualRunError, enqueue_now, fire_cron_now, parse_json
from steps.models import DeadLetter, SocketReach, StepRun, TraceEvent
from steps.registry import registry as steps
from streams.models import StreamGroup, StreamLogEntry
from streams.registry import registry as streams
from streams.tokens import page_token

from .run_forms import QueueForm, cron_buttons, queue_forms, with_error
from .timeline import (
    ChangeKey,
    Summary,
    change_key,
    item_of_frame,
    reaches,
    summary,
    timeline,
)
from .view_models import dead_letter_view, flow_views, run_view, stream_views

RECENT = 20
"""How many dead letters and step runs the dashboard shows."""
TRACE_LIMIT = 500
"""How many rows of each kind the trace view reads for one trace."""
SEARCH_LIMIT = 20
"""How many trace ids a search lists."""
LIVE_SECONDS = 15
"""A trace whose last entry is younger than this is followed live by its page."""
GROUPS_PER_QUERY = 50
"""Stream groups looked up per query when the trace view reads socket counts and items."""

M = TypeVar("M", bound=Model)


def group_counts() -> list[tuple[str, str, int]]:
    """(stream, group, item count) of every group of a registered stream, sorted."""
    rows = (
        StreamGroup.objects.filter(stream_name__in=streams.names())
        .annotate(count=Count("items"))
        .order_by("stream_name", "group_id")
        .values_list("stream_name", "group_id", "count")
    )
    return list(rows)


def recent(queryset: QuerySet[M], trace: str) -> list[M]:
    """The newest rows, of one trace when ``trace`` is given."""
    if trace:
        queryset = queryset.filter(trace_id=trace)
    return list(queryset[:RECENT])


def sent_notice(trace_id: str) -> dict[str, Any] | None:
    """What was sent by hand under ``trace_id`` (shown once the form is sent)."""
    if not TRACE_ID.match(trace_id):
        return None
    kinds = [TraceEvent.Kind.ENQUEUE, TraceEvent.Kind.CRON]
    event = TraceEvent.objects.filter(trace_id=trace_id, kind__in=kinds).first()
    if event is None:
        return {"trace_id": trace_id, "what": "", "steps": ""}
    detail = event.detail or {}
    if event.kind == TraceEvent.Kind.CRON:
        return {
            "trace_id": trace_id,
            "what": f"cron {detail.get('expression', '')}",
            "steps": event.step_name,
        }
    steps_run = ", ".join(detail.get("steps", ()))
    return {"trace_id": trace_id, "what": f"topic {detail.get('topic', '')}", "steps": steps_run}


def overview(request: HttpRequest, forms: list[QueueForm] | None = None) -> dict[str, Any]:
    """The overview page's context (``forms``: the queue forms as a refused one left them)."""
    trace = request.GET.get("trace", "").strip()
    return {
        "flows": flow_views(flows_overview(steps)),
        "streams": stream_views(streams.names(), group_counts()),
        "queue_forms": forms if forms is not None else queue_forms(steps),
        "cron_buttons": cron_buttons(steps),
        "sent": sent_notice(request.GET.get("sent", "")),
        "runs": [run_view(run) for run in recent(StepRun.objects.all(), trace)],
        "dead_letters": [dead_letter_view(d) for d in recent(DeadLetter.objects.all(), trace)],
        "trace": trace,
        "recent": RECENT,
        "stream_token": page_token(request),
    }


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Flows as graphs, streams live, forms that run a step now, recent dead letters and step
    runs (``?trace=`` keeps only those of one trace; ``?sent=`` names what a form sent)."""
    return render(request, "steps/dashboard.html", overview(request))


# --- running a step now ------------------------------------------------------------------------


def _origin(request: HttpRequest) -> str:
    return f"the dashboard ({request.user.get_username()})"


def _sent(trace_id: str) -> HttpResponseRedirect:
    return redirect(f"{reverse('dashboard')}?sent={trace_id}#run")


@staff_member_required
@require_POST
@csrf_protect
def run_queue(request: HttpRequest) -> HttpResponse:
    """Enqueue a form's JSON to its step's topic; a refused one is shown in its form (400)."""
    step_name = request.POST.get("step", "")
    try:
        trigger = int(request.POST.get("trigger", ""))
    except ValueError:
        trigger = -1
    text = request.POST.get("data", "")
    forms = queue_forms(steps)
    form = next((f for f in forms if (f.step_name, f.trigger) == (step_name, trigger)), None)
    try:
        if form is None:
            raise ManualRunError(f"no queue trigger {trigger} on a step named {step_name!r}")
        sent = enqueue_now(form.topic, parse_json(text), steps, origin=_origin(request))
    except ManualRunError as error:
        context = overview(request, with_error(forms, step_name, trigger, text, str(error)))
        if form is None:
            context["run_error"] = str(error)
        return render(request, "steps/dashboard.html", context, status=400)
    return _sent(sent.trace_id)


@staff_member_required
@require_POST
@csrf_protect
def run_cron(request: HttpRequest) -> HttpResponse:
    """Fire a cron step now."""
    try:
        sent = fire_cron_now(request.POST.get("step", ""), steps, origin=_origin(request))
    except ManualRunError as error:
        context = overview(request)
        context["run_error"] = str(error)
        return render(request, "steps/dashboard.html", context, status=400)
    return _sent(sent.trace_id)


# --- traces --------------------------------------------------------------------------------------


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
