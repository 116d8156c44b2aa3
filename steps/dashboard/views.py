"""The dashboard's page: it reads the flows, the stream groups and the recent runs and dead
letters, and renders them (``steps/dashboard.html``)."""

from typing import TypeVar

from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from steps.flows import flows_overview
from steps.models import DeadLetter, StepRun
from steps.registry import registry as steps
from streams.models import StreamGroup
from streams.registry import registry as streams
from streams.tokens import page_token

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


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Flows as graphs, streams live, recent dead letters and step runs (``?trace=`` keeps
    only those of one trace)."""
    trace = request.GET.get("trace", "").strip()
    context = {
        "flows": flow_views(flows_overview(steps)),
        "streams": stream_views(streams.names(), group_counts()),
        "runs": [run_view(run) for run in recent(StepRun.objects.all(), trace)],
        "dead_letters": [dead_letter_view(d) for d in recent(DeadLetter.objects.all(), trace)],
        "trace": trace,
        "recent": RECENT,
        "stream_token": page_token(request),
    }
    return render(request, "steps/dashboard.html", context)
