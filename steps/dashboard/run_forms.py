"""The dashboard's "Run a step now" forms: one per queue trigger, with its input schema and a
JSON example made from it, and a button per cron trigger.

Pure: steps in, frozen dataclasses out (the views send, :mod:`steps.running.manual` checks).
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..definitions import CronTrigger, QueueTrigger, Step

# Nested schemas deeper than this get null in the example (a model that contains itself).
MAX_EXAMPLE_DEPTH = 8


@dataclass(frozen=True)
class QueueForm:
    """A form that enqueues to the topic of one step's queue trigger."""

    step_name: str
    trigger: int
    topic: str
    also: tuple[str, ...]  # the other steps the topic runs
    schema_json: str  # the input model's JSON schema, indented; "" when it has none
    data: str  # the textarea: an example from the schema, or what was submitted
    error: str = ""

    @property
    def key(self) -> str:
        """What identifies the form in the page (and its anchor)."""
        return f"{self.step_name}-{self.trigger}"


@dataclass(frozen=True)
class CronButton:
    """A button that fires one step's cron trigger now."""

    step_name: str
    trigger: int
    expression: str


def queue_forms(steps: Iterable[Step]) -> list[QueueForm]:
    """A form for every queue trigger of ``steps``, in their order."""
    steps = list(steps)
    takers: dict[str, list[str]] = {}
    for step in steps:
        for trigger in step.config.triggers_of(QueueTrigger):
            takers.setdefault(trigger.topic, []).append(step.name)
    forms = []
    for step in steps:
        for index, trigger in enumerate(step.config.triggers):
            if not isinstance(trigger, QueueTrigger):
                continue
            schema = _json_schema(trigger.input)
            others = tuple(name for name in takers[trigger.topic] if name != step.name)
            forms.append(
                QueueForm(
                    step_name=step.name,
                    trigger=index,
                    topic=trigger.topic,
                    also=others,
                    schema_json=json.dumps(schema, indent=2) if schema is not None else "",
                    data=json.dumps(example(schema) if schema is not None else {}, indent=2),
                )
            )
    return forms


def with_error(
    forms: list[QueueForm], step_name: str, trigger: int, data: str, error: str
) -> list[QueueForm]:
    """``forms`` with the one of (``step_name``, ``trigger``) showing what was submitted and
    why it was refused."""
    return [
        replace(form, data=data, error=error)
        if (form.step_name, form.trigger) == (step_name, trigger)
        else form
        for form in forms
    ]


def cron_buttons(steps: Iterable[Step]) -> list[CronButton]:
    """A button for every cron trigger of ``steps``."""
    return [
        CronButton(step.name, index, trigger.expression)
        for step in steps
        for index, trigger in enumerate(step.config.triggers)
        if isinstance(trigger, CronTrigger)
    ]


def example(schema: Mapping[str, Any]) -> Any:
    """A JSON value shaped like ``schema`` (a JSON schema as pydantic writes it): each
    property's default or first example when it has one, else an empty value of its type."""
    return _example(schema, schema.get("$defs", {}), 0)


def _example(schema: Mapping[str, Any], defs: Mapping[str, Any], depth: int) -> Any:
    if depth > MAX_EXAMPLE_DEPTH:
        return None
    if "$ref" in schema:
        target = defs.get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
        return _example(target, defs, depth + 1)
    for key in ("default", "const"):
        if key in schema:
            return schema[key]
    for key in ("examples", "enum"):
        if schema.get(key):
            return schema[key][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [option for option in schema.get(key, ()) if option.get("type") != "null"]
        if options:
            return _example(options[0], defs, depth + 1)
        if key in schema:
            return None
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: _example(prop, defs, depth + 1) for name, prop in properties.items()}
    return _EMPTY.get(str(kind))


_EMPTY: dict[str, Any] = {"array": [], "string": "", "integer": 0, "number": 0, "boolean": False}


def _json_schema(schema: Any) -> dict[str, Any] | None:
    """A trigger's ``input`` as a JSON schema: a pydantic model's, or the dict itself."""
    if schema is None:
        return None
    if isinstance(schema, Mapping):
        return dict(schema)
    result: dict[str, Any] = schema.model_json_schema()
    return result
