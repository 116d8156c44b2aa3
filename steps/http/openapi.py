"""The OpenAPI document of the step endpoints.

django-ninja describes the routes (paths, path parameters, summaries, tags); this module gives
each step operation its request body and its responses: the step's declared
``response_schema`` and the engine's own errors (:data:`steps.http.responses.ENGINE_STATUSES`).

Schemas are named per step (``CreateTodoBody``, ``CreateTodoResponse201``), so two step modules
that each define a model called ``Body`` get a schema each. A model nested in them keeps its
own name unless a different schema already has it; then it takes the step's name as prefix.
"""

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import pydantic
from pydantic.json_schema import JsonSchemaMode

from ..definitions import HttpTrigger, ResponseSchema
from .responses import ENGINE_STATUSES, ConditionNotMet, ErrorBody, status_phrase

REF_PREFIX = "#/components/schemas/"
JSON = "application/json"
TRACE_HEADER = {
    "description": "The trace id of the step run (the request's X-Trace-Id, or a new one).",
    "schema": {"type": "string"},
}


class Components:
    """The document's named schemas, each name given to one schema only."""

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}

    def add(
        self, schema: ResponseSchema, name: str, prefix: str, mode: JsonSchemaMode
    ) -> dict[str, Any]:
        """Add a model or JSON-schema dict under ``name`` (or a free variant of it); return a
        reference to it. Its nested definitions are added too, renamed on a clash."""
        for own in (ErrorBody, ConditionNotMet):  # the engine's own bodies: one schema each
            if schema is own and own.__name__ in self.schemas:
                return {"$ref": REF_PREFIX + own.__name__}
        if isinstance(schema, type) and issubclass(schema, pydantic.BaseModel):
            top = schema.model_json_schema(
                ref_template=REF_PREFIX + "{model}",
                mode=mode,
            )
            defs, ref_of = top.pop("$defs", {}), REF_PREFIX
        else:
            top = copy.deepcopy(dict(schema or {}))
            defs, ref_of = top.pop("$defs", {}), "#/$defs/"
        renames = {old: self._free_name(old, d, prefix) for old, d in defs.items()}
        for old, definition in defs.items():
            self.schemas[renames[old]] = _rewrite_refs(definition, ref_of, renames)
        top = _rewrite_refs(top, ref_of, renames)
        final = self._free_name(name, None, "")
        top["title"] = final
        self.schemas[final] = top
        return {"$ref": REF_PREFIX + final}

    def _free_name(self, name: str, schema: dict[str, Any] | None, prefix: str) -> str:
        """``name`` if free (or already this very schema), else the prefixed name, else
        either with a counter."""
        for candidate in (name, f"{prefix}{name}"):
            existing = self.schemas.get(candidate)
            if existing is None or (schema is not None and existing == schema):
                return candidate
        count = 2
        while f"{prefix}{name}{count}" in self.schemas:
            count += 1
        return f"{prefix}{name}{count}"


def _rewrite_refs(value: Any, ref_of: str, renames: Mapping[str, str]) -> Any:
    """``value`` with its ``$ref``s to ``ref_of + name`` pointing at the renamed components."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str) and item.startswith(ref_of):
                name = item.removeprefix(ref_of)
                result[key] = REF_PREFIX + renames.get(name, name)
            else:
                result[key] = _rewrite_refs(item, ref_of, renames)
        return result
    if isinstance(value, list):
        return [_rewrite_refs(item, ref_of, renames) for item in value]
    return value


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


def describe_operation(
    operation: dict[str, Any], step_name: str, trigger: HttpTrigger, components: Components
) -> None:
    """Give one step operation its request body and responses."""
    if trigger.body_schema is not None:
        ref = components.add(trigger.body_schema, f"{step_name}Body", step_name, "validation")
        operation["requestBody"] = {"required": True, "content": _json_content(ref)}
    else:
        operation.pop("requestBody", None)
    error = {"$ref": REF_PREFIX + "ErrorBody"}
    responses: dict[str, Any] = {}
    declared = trigger.response_schema
    for status, schema in sorted((declared or {}).items()):
        response: dict[str, Any] = {"description": status_phrase(status)}
        if status not in ENGINE_STATUSES:
            response["headers"] = {"X-Trace-Id": {**TRACE_HEADER, "required": True}}
        if schema is not None:
            name = f"{step_name}Response{status}"
            ref = components.add(schema, name, step_name, "serialization")
            # The engine answers its own statuses with its error body, whatever the step says.
            body = {"anyOf": [ref, error]} if status in ENGINE_STATUSES else ref
            response["content"] = _json_content(body)
        responses[str(status)] = response
    if declared is None:
        responses["default"] = {
            "description": "What the handler answers (the step declares no response_schema).",
        }
    for status, description in ENGINE_STATUSES.items():
        if str(status) not in responses:
            responses[str(status)] = {"description": description, "content": _json_content(error)}
    if trigger.condition is not None:
        skipped = components.add(ConditionNotMet, "ConditionNotMet", "", "serialization")
        _add_body(responses["422"], skipped, "Or the trigger's condition refused the request.")
    operation["responses"] = dict(sorted(responses.items()))


def _add_body(response: dict[str, Any], schema: dict[str, Any], description: str) -> None:
    """Let ``response`` carry a body of ``schema`` besides those it has."""
    content = response.get("content", {}).get(JSON, {}).get("schema")
    bodies = content.get("anyOf", [content]) if content is not None else []
    response["content"] = _json_content({"anyOf": [*bodies, schema]})
    response["description"] = f"{response['description']} {description}"


def step_operations(
    document: Mapping[str, Any], triggers: Mapping[str, tuple[str, HttpTrigger]]
) -> Iterator[tuple[dict[str, Any], str, HttpTrigger]]:
    """The document's operations of step triggers, by operation id."""
    for methods in document.get("paths", {}).values():
        for operation in methods.values():
            found = triggers.get(operation.get("operationId", ""))
            if found is not None:
                yield operation, *found


def complete_document(
    document: dict[str, Any], triggers: Mapping[str, tuple[str, HttpTrigger]]
) -> dict[str, Any]:
    """Replace ninja's request bodies, responses and schemas of the step operations (``triggers``
    maps operation ids to ``(step name, trigger)``) by the truthful ones."""
    components = Components()
    components.add(ErrorBody, "ErrorBody", "", "serialization")
    for operation, step_name, trigger in step_operations(document, triggers):
        describe_operation(operation, step_name, trigger, components)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.clear()  # ninja's, named by class name alone, are replaced by these
    schemas.update(dict(sorted(components.schemas.items())))
    return document
