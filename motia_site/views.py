"""The developers' dashboard (``/dashboard/``).

The page is a plain template; its live parts run in the browser on the project's
JavaScript stream client (``/static/streams/stream-client.js``). The dashboard's flow graphs
are laid out here, by :func:`layout_flow`, and drawn as inline SVG by the template.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from steps.flows import describe_trigger, flows_overview
from steps.models import DeadLetter, StepRun
from steps.registry import registry as steps
from streams.models import StreamGroup
from streams.registry import registry as streams
from streams.tokens import page_token

RECENT = 20
"""How many dead letters and step runs the dashboard shows."""

# A stream this small is watched live as a whole when the dashboard opens.
SMALL_STREAM_GROUPS = 3
SMALL_STREAM_ITEMS = 50

# Graph geometry, in SVG user units (CSS pixels at scale 1).
NODE_WIDTH = 240
NODE_TITLE_HEIGHT = 30
NODE_LINE_HEIGHT = 16
COLUMN_GAP = 110  # room for an edge and its topic label between layers
ROW_GAP = 22
PADDING = 16
GRID_COLUMNS = 3  # steps with no topic edge are laid out in a grid this wide
NAME_CHARS = 27
LINE_CHARS = 32


# --- flow graphs --------------------------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class GraphNode:
    name: str
    kind: str  # type of the step's first trigger: http, queue, stream, cron (colours the node)
    lines: list[str]  # one per trigger, then topics enqueued that no step of the flow receives
    title: str  # the full text, shown as a tooltip
    x: float = 0
    y: float = 0
    width: float = NODE_WIDTH
    height: float = 0

    @property
    def label(self) -> str:
        return _clip(self.name, NAME_CHARS)

    @property
    def text_lines(self) -> list[tuple[float, str]]:
        """(y, text) of each line below the name."""
        return [
            (NODE_TITLE_HEIGHT + NODE_LINE_HEIGHT * i + 4, _clip(line, LINE_CHARS))
            for i, line in enumerate(self.lines)
        ]


@dataclass
class GraphEdge:
    path: str
    label: str
    label_x: float
    label_y: float
    virtual: bool


@dataclass
class FlowGraph:
    name: str
    steps: list[Mapping[str, Any]]
    nodes: list[GraphNode] = field(default_factory=list)
    edges: list[GraphEdge] = field(default_factory=list)
    width: float = 0
    height: float = 0


def _node(step: Mapping[str, Any], received: set[str]) -> GraphNode:
    lines = [describe_trigger(t) for t in step["triggers"]]
    lines += [f"→ {topic}" for topic in step["enqueues"] if topic not in received]
    kind = step["triggers"][0]["type"] if step["triggers"] else "none"
    return GraphNode(step["name"], kind, lines, "\n".join([step["name"], *lines]))


def _acyclic(names: Sequence[str], links: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The links less self-loops and those closing a cycle (found depth first, from the
    steps nothing enqueues to), so that each link left points to a later layer."""
    targets = {name: [t for s, t in links if s == name and t != name] for name in names}
    fed = {t for _, t in links}
    state: dict[str, str] = {}  # "open" while on the depth-first path, then "done"
    closing: set[tuple[str, str]] = set()

    def visit(name: str) -> None:
        state[name] = "open"
        for target in targets[name]:
            if state.get(target) == "open":
                closing.add((name, target))
            elif target not in state:
                visit(target)
        state[name] = "done"

    for name in sorted(names, key=lambda n: n in fed):  # sources first
        if name not in state:
            visit(name)
    return [(s, t) for s, t in links if s != t and (s, t) not in closing]


def _layers(names: Sequence[str], links: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering from the sources, cycles broken (their closing links drawn
    backwards)."""
    forward = _acyclic(names, links)
    layer = dict.fromkeys(names, 0)
    for _ in range(len(names)):
        changed = False
        for source, target in forward:
            if layer[target] < layer[source] + 1:
                layer[target] = layer[source] + 1
                changed = True
        if not changed:
            break
    return layer


def layout_flow(flow: Mapping[str, Any], edges: Sequence[Mapping[str, Any]]) -> FlowGraph:
    """Place a flow's steps and topic edges: linked steps in layers from left to right (a
    step right of every step that enqueues to it), unlinked steps in a grid below."""
    graph = FlowGraph(flow["name"], list(flow["steps"]))
    names = [s["name"] for s in flow["steps"]]
    edges = [e for e in edges if e["flow"] == flow["name"] and e["from"] in names]
    received = {e["topic"] for e in edges}
    nodes = {s["name"]: _node(s, received) for s in flow["steps"]}
    height = NODE_TITLE_HEIGHT + NODE_LINE_HEIGHT * max(len(n.lines) for n in nodes.values()) + 8
    for node in nodes.values():
        node.height = height

    # Several topics between the same two steps share one arrow.
    topics: dict[tuple[str, str], list[str]] = {}
    virtual: dict[tuple[str, str], bool] = {}
    for edge in edges:
        key = (edge["from"], edge["to"])
        topics.setdefault(key, []).append(edge["topic"])
        virtual[key] = virtual.get(key, True) and edge["virtual"]

    linked = [n for n in names if any(n in key for key in topics)]
    layer = _layers(linked, list(topics))
    row_of: dict[str, int] = {}
    for number in sorted(set(layer.values())):
        members = [n for n in linked if layer[n] == number]

        def feeder_rows(name: str) -> tuple[float, str]:
            # Order a layer by the rows of the steps feeding it, so that arrows cross less.
            rows = [row_of[s] for s, t in topics if t == name and s in row_of]
            return (sum(rows) / len(rows) if rows else 0.0, name)

        for row, name in enumerate(sorted(members, key=feeder_rows)):
            row_of[name] = row
            nodes[name].x = PADDING + number * (NODE_WIDTH + COLUMN_GAP)
            nodes[name].y = PADDING + row * (height + ROW_GAP)
    top: float = PADDING  # of the grid of unlinked steps: below the linked ones
    if linked:
        top = max(nodes[n].y + height for n in linked) + ROW_GAP
    unlinked = [n for n in names if n not in linked]
    for index, name in enumerate(unlinked):
        row, column = divmod(index, GRID_COLUMNS)
        nodes[name].x = PADDING + column * (NODE_WIDTH + 2 * ROW_GAP)
        nodes[name].y = top + row * (height + ROW_GAP)

    for (source, target), labels in topics.items():
        label = ", ".join(labels)
        graph.edges.append(_edge(nodes[source], nodes[target], label, virtual[source, target]))

    graph.nodes = list(nodes.values())
    graph.width = max(n.x + n.width for n in graph.nodes) + PADDING
    bottoms = [n.y + n.height for n in graph.nodes] + [e.label_y + 4 for e in graph.edges]
    graph.height = max(bottoms) + PADDING
    return graph


def _edge(source: GraphNode, target: GraphNode, label: str, virtual: bool) -> GraphEdge:
    """A curve from the right of ``source`` to the left of ``target``; backwards (a cycle, or
    a step enqueueing to itself) it loops under the two nodes instead."""
    if target.x > source.x:
        x1, y1 = source.x + source.width, source.y + source.height / 2
        x2, y2 = target.x - 2, target.y + target.height / 2
        bend = (x2 - x1) / 2
        path = f"M{x1:g},{y1:g} C{x1 + bend:g},{y1:g} {x2 - bend:g},{y2:g} {x2:g},{y2:g}"
        return GraphEdge(path, label, (x1 + x2) / 2, (y1 + y2) / 2 - 6, virtual)
    x1, y1 = source.x + source.width * 0.6, source.y + source.height
    x2, y2 = target.x + target.width * 0.4, target.y + target.height + 2
    drop = max(y1, y2) + ROW_GAP * 1.5
    path = f"M{x1:g},{y1:g} C{x1:g},{drop:g} {x2:g},{drop:g} {x2:g},{y2:g}"
    return GraphEdge(path, label, (x1 + x2) / 2, drop + 4, virtual)


# --- dashboard ----------------------------------------------------------------------------------


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def stream_summaries() -> list[dict[str, Any]]:
    """Every registered stream with its groups and their item counts."""
    groups: dict[str, list[dict[str, Any]]] = {}
    rows = StreamGroup.objects.filter(stream_name__in=streams.names()).annotate(
        count=Count("items")
    )
    for group in rows.order_by("stream_name", "group_id"):
        groups.setdefault(group.stream_name, []).append(
            {"id": group.group_id, "count": group.count}
        )
    summaries = []
    for name in streams.names():
        own = groups.get(name, [])
        items = sum(g["count"] for g in own)
        small = len(own) <= SMALL_STREAM_GROUPS and items <= SMALL_STREAM_ITEMS
        summaries.append({"name": name, "groups": own, "items": items, "watch_all": small})
    return summaries


def _when(seconds: Any) -> datetime | None:
    """A log line's time (seconds since the epoch) as a datetime, for the template."""
    try:
        return datetime.fromtimestamp(float(seconds), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _recent(queryset: QuerySet[Any], trace: str) -> list[Any]:
    """The newest rows, of one trace when ``trace`` is given."""
    if trace:
        queryset = queryset.filter(trace_id=trace)
    return list(queryset[:RECENT])


def recent_runs(trace: str) -> list[StepRun]:
    runs = _recent(StepRun.objects.all(), trace)
    for run in runs:
        run.duration_ms = (
            round((run.finished_at - run.started_at).total_seconds() * 1000)
            if run.finished_at
            else None
        )
        run.log_lines = [
            {
                **line,
                "at": _when(line.get("time")),
                "fields_json": json.dumps(line.get("fields") or {}, default=str),
            }
            for line in run.logs or []
        ]
    return runs


def recent_dead_letters(trace: str) -> list[DeadLetter]:
    letters = _recent(DeadLetter.objects.all(), trace)
    for letter in letters:
        letter.payload_json = _pretty(letter.payload)
    return letters


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Flows as graphs, streams live, recent dead letters and step runs (``?trace=`` keeps
    only those of one trace)."""
    overview = flows_overview(steps)
    trace = request.GET.get("trace", "").strip()
    context = {
        "flows": [layout_flow(flow, overview["edges"]) for flow in overview["flows"]],
        "streams": stream_summaries(),
        "runs": recent_runs(trace),
        "dead_letters": recent_dead_letters(trace),
        "trace": trace,
        "recent": RECENT,
        "stream_token": page_token(request),
    }
    return render(request, "dashboard.html", context)
