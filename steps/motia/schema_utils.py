"""Motia's ``schema_to_json_schema`` (pure)."""

from typing import Any

import pydantic


def schema_to_json_schema(schema: Any) -> dict[str, Any] | None:
    """A JSON schema as is, a pydantic model's JSON schema, or None for anything else."""
    if isinstance(schema, dict):
        return schema
    if isinstance(schema, type) and issubclass(schema, pydantic.BaseModel):
        return schema.model_json_schema()
    return None
