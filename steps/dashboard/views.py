"""The dashboard's overview (flows, streams, forms that run a step now, recent dead letters
and step runs) and the forms' actions; the trace view is in ``trace_views``."""

from typing import Any, TypeVar

from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from streams.definitions import registry as streams
from streams.models import StreamGroup
from streams.sockets import page_token

from ..definitions import flows_overview
from ..definitions import registry as steps
from ..models import DeadLetter, StepRun, TraceEvent
from ..running import TRACE_ID, ManualRunError, enqueue_now, fire_cron_now, parse_json
from .run_forms import QueueForm, cron_buttons, queue_forms, with_error
from .view_models import dead_letter_view, flow_views, run_view, stream_views

RECENT = 20
"""How many dead letters and step runs the dashboard shows."""

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
