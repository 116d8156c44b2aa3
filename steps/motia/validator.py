"""Motia's validation helpers (pure): a JSON schema's shape, a step config's essentials, and
whether two topics' schemas agree."""

from typing import Any

import jsonschema
import pydantic

from .types import StepConfig

_SCHEMA_ROOTS = ("type", "$ref", "anyOf", "oneOf", "allOf")


def validate_schema(schema: Any) -> list[str]:
    """What is wrong with ``schema`` as a JSON schema (an empty list: nothing)."""
    if not isinstance(schema, dict):
        return ["Schema must be a dictionary"]
    errors = []
    if not any(key in schema for key in _SCHEMA_ROOTS):
        errors.append("Schema should have a 'type', '$ref', 'anyOf', or 'oneOf' property")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        errors.append(error.message)
    return errors


def validate_step_config(config: Any) -> list[str]:
    """What a step config lacks: a name and at least one trigger."""
    name = config.get("name") if isinstance(config, dict) else getattr(config, "name", None)
    if name is None:
        return ["Step config must have a 'name' property"]
    errors = [] if name else ["Step name cannot be empty"]
    triggers = (
        config.get("triggers") if isinstance(config, dict) else getattr(config, "triggers", None)
    )
    if not triggers:
        errors.append("Step must have at least one trigger")
    return errors


def validate_step(config: Any) -> list[str]:
    """The errors of reading ``config`` as a Motia step config."""
    try:
        StepConfig.model_validate(
            config.model_dump() if isinstance(config, pydantic.BaseModel) else config
        )
    except pydantic.ValidationError as error:
        return [str(detail.get("msg", "Invalid step config")) for detail in error.errors()]
    return []


def pydantic_to_json_schema(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def check_schema_compatibility(first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    """Where two schemas of one topic disagree: their types, fields one requires that the
    other does not have."""
    issues = []
    if first.get("type") != second.get("type"):
        issues.append(f"Type mismatch: {first.get('type')} vs {second.get('type')}")
    elif first.get("type") == "object":
        for label, one, other in (("second", first, second), ("first", second, first)):
            missing = set(one.get("required", [])) - set(other.get("properties", {}))
            if missing:
                issues.append(f"Required fields missing in {label} schema: {sorted(missing)}")
    return issues
