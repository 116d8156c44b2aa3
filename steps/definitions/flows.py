"""The flows overview: the project's steps grouped by flow, with the topic edges between them.

Pure (no I/O): :func:`flows_overview` turns steps into JSON-ready data that ``GET /api/flows``
serves and ``manage.py steps --json`` prints (camelCase keys, for the JavaScript dashboard);
:func:`format_overview` renders the same data as text for a terminal (``manage.py steps``).

An edge joins a step that enqueues topic ``t`` to every step subscribed to ``t`` (a queue
trigger on ``t``). ``virtual_enqueues`` / ``virtual_subscribes`` (topics a step documents but
does not really use) also make edges, marked ``"virtual": true``. An edge belongs to each flow
its two steps share; an edge between steps that share no flow has ``"flow": null``.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from .config import CronTrigger, DataSchema, HttpTrigger, QueueTrigger, StreamTrigger, Trigger
from .step_registry import Step

DEFAULT_FLOW = "default"
"""The flow of a step that names none."""

Json = dict[str, Any]


def _schema_name(schema: DataSchema | None) -> str | None:
    """A schema for the JSON: a model's class name only, never the class; a JSON-schema
    dict's ``title``, if it has one."""
    if isinstance(schema, Mapping):
        return str(schema.get("title") or "JSON schema")
    return None if schema is None else schema.__name__


def trigger_json(trigger: Trigger) -> Json:
    """One trigger as JSON: its ``type`` and the fields that identify it."""
    if isinstance(trigger, HttpTrigger):
        return {
            "type": "http",
            "method": trigger.method,
            "path": trigger.path,
            "bodySchema": _schema_name(trigger.body_schema),
            "description": trigger.description,
        }
    if isinstance(trigger, QueueTrigger):
        return {
            "type": "queue",
            "topic": trigger.topic,
            "input": _schema_name(trigger.input),
            "hasCondition": trigger.condition is not None,
        }
    if isinstance(trigger, StreamTrigger):
        return {
            "type": "stream",
            "streamName": trigger.stream_name,
            "groupId": trigger.group_id,
            "itemId": trigger.item_id,
            "hasCondition": trigger.condition is not None,
        }
    if isinstance(trigger, CronTrigger):
        return {"type": "cron", "expression": trigger.expression}
    raise TypeError(f"unknown trigger {trigger!r}")


def subscribed_topics(step: Step) -> list[str]:
    """The topics of a step's queue triggers."""
    return [t.topic for t in step.config.triggers_of(QueueTrigger)]


def step_flows(step: Step) -> list[str]:
    """The flows a step is listed under: its own, or :data:`DEFAULT_FLOW` if it names none."""
    return list(dict.fromkeys(step.config.flows)) or [DEFAULT_FLOW]


def step_json(step: Step) -> Json:
    """One step as JSON."""
    config = step.config
    return {
        "name": config.name,
        "description": config.description,
        "flows": step_flows(step),
        "triggers": [trigger_json(t) for t in config.triggers],
        "enqueues": list(config.enqueues),
        "subscribes": subscribed_topics(step),
        "virtualEnqueues": list(config.virtual_enqueues),
        "virtualSubscribes": list(config.virtual_subscribes),
        "module": step.module,
    }


def _topics(pairs: Iterable[tuple[str, bool]]) -> dict[str, bool]:
    """Topic -> virtual, where a topic used both really and virtually counts as real."""
    topics: dict[str, bool] = {}
    for topic, virtual in pairs:
        topics[topic] = topics.get(topic, True) and virtual
    return topics


def _sends(step: Step) -> dict[str, bool]:
    config = step.config
    return _topics(
        [(t, False) for t in config.enqueues] + [(t, True) for t in config.virtual_enqueues]
    )


def _receives(step: Step) -> dict[str, bool]:
    real = [(t, False) for t in subscribed_topics(step)]
    return _topics(real + [(t, True) for t in step.config.virtual_subscribes])


def topic_edges(steps: Iterable[Step]) -> list[Json]:
    """Every edge from a step enqueueing a topic to a step subscribed to it, one per flow the
    two share (``flow`` null if none), sorted; virtual if either end is virtual."""
    steps = list(steps)
    edges = []
    for source in steps:
        for topic, virtual_send in _sends(source).items():
            for target in steps:
                virtual_receive = _receives(target).get(topic)
                if virtual_receive is None:
                    continue
                shared: list[str | None] = [
                    f for f in step_flows(source) if f in step_flows(target)
                ] or [None]
                edges += [
                    {
                        "flow": flow,
                        "from": source.name,
                        "to": target.name,
                        "topic": topic,
                        "virtual": virtual_send or virtual_receive,
                    }
                    for flow in shared
                ]
    return sorted(edges, key=lambda e: (e["flow"] or "", e["from"], e["to"], e["topic"]))


def flows_overview(steps: Iterable[Step]) -> Json:
    """The steps by flow (flows and their steps sorted by name) and the topic edges."""
    steps = sorted(steps, key=lambda s: s.name)
    by_flow: dict[str, list[Json]] = {}
    for step in steps:
        for flow in step_flows(step):
            by_flow.setdefault(flow, []).append(step_json(step))
    return {
        "flows": [{"name": name, "steps": by_flow[name]} for name in sorted(by_flow)],
        "edges": topic_edges(steps),
    }


# --- text, for a terminal ---------------------------------------------------------------------


def describe_trigger(trigger: Mapping[str, Any]) -> str:
    """A trigger (as JSON) in a few words: ``POST /todos``, ``queue step.process``,
    ``stream parallelMerge/merge-groups``, ``cron */5 * * * *``."""
    kind = trigger["type"]
    if kind == "http":
        return f"{trigger['method']} {trigger['path']}"
    if kind == "cron":
        return f"cron {trigger['expression']}"
    if kind == "queue":
        text = f"queue {trigger['topic']}"
    else:
        parts = [trigger["streamName"], trigger["groupId"], trigger["itemId"]]
        text = "stream " + "/".join(p for p in parts if p)
    return text + (" (if condition)" if trigger.get("hasCondition") else "")


def _enqueues_text(step: Mapping[str, Any]) -> str:
    topics = list(step["enqueues"]) + [f"~{t}" for t in step["virtualEnqueues"]]
    return f"  -> {', '.join(topics)}" if topics else ""


def describe_step(step: Mapping[str, Any], width: int = 0) -> str:
    """One line: the step's name, its triggers, and ``-> topics`` it enqueues (``~topic`` for a
    virtual one)."""
    triggers = ", ".join(describe_trigger(t) for t in step["triggers"])
    return f"{step['name']:<{width}}  {triggers}{_enqueues_text(step)}"


def format_overview(overview: Mapping[str, Any]) -> str:
    """The overview as text: a heading per flow, then one line per step."""
    blocks = []
    for flow in overview["flows"]:
        width = max((len(s["name"]) for s in flow["steps"]), default=0)
        count = len(flow["steps"])
        lines = [f"{flow['name']} ({count} step{'' if count == 1 else 's'})"]
        lines += [f"  {describe_step(step, width)}".rstrip() for step in flow["steps"]]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else "no steps"
