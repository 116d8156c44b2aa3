"""Step definitions: a step's ``config`` and its triggers, parsed and checked (no I/O).

A step module (``*_step.py``) defines ``config`` (a dict, as in Motia) and ``handler``::

    config = {
        "name": "CreateTodo",
        "triggers": [{"type": "http", "method": "POST", "path": "/todos", "body_schema": Body}],
        "flows": ["todo"],
    }

    async def handler(request, ctx): ...
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import jsonschema
import pydantic

if TYPE_CHECKING:
    from .retry import RetryPolicy

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_PATH_PARAM = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")


class StepConfigError(ValueError):
    """A step's ``config`` is not valid."""


def _camel_to_snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _normalise(value: Mapping[str, Any]) -> dict[str, Any]:
    """Accept the seed's camelCase keys (``bodySchema``) as well as snake_case."""
    return {_camel_to_snake(key): item for key, item in value.items()}


def _schema(value: Any, where: str) -> type[pydantic.BaseModel] | None:
    if value is None:
        return None
    if isinstance(value, type) and issubclass(value, pydantic.BaseModel):
        return value
    raise StepConfigError(f"{where} must be a pydantic model class")


# What ``response_schema`` maps a status to: a pydantic model, a JSON-schema dict, or None for
# a response without a body (a 204).
ResponseSchema = type[pydantic.BaseModel] | Mapping[str, Any] | None


def _response_schemas(value: Any, where: str) -> dict[int, ResponseSchema] | None:
    """Motia's ``responseSchema``: a mapping of status code to the body's schema."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise StepConfigError(f"{where} must map status codes to schemas")
    schemas: dict[int, ResponseSchema] = {}
    for key, schema in value.items():
        try:
            status = int(key)
        except (TypeError, ValueError):
            status = 0
        if isinstance(key, bool) or not 100 <= status <= 599:
            raise StepConfigError(f"{where}: {key!r} is not an HTTP status code")
        if isinstance(schema, Mapping):
            try:
                jsonschema.Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as error:
                raise StepConfigError(f"{where}[{status}]: {error.message}") from None
        elif schema is not None:
            _schema(schema, f"{where}[{status}]")
        schemas[status] = schema
    return schemas


@dataclass(frozen=True)
class HttpTrigger:
    """A REST endpoint: ``path`` uses ``:name`` for path parameters, as in Motia.

    ``response_schema`` maps status codes to what the handler answers with them (a pydantic
    model, a JSON-schema dict, or None for no body): it documents the endpoint in OpenAPI and,
    with ``STEPS_VALIDATE_RESPONSES``, is checked against every response."""

    method: str
    path: str
    body_schema: type[pydantic.BaseModel] | None = None
    query_params: tuple[Mapping[str, Any], ...] = ()
    response_schema: Mapping[int, ResponseSchema] | None = None
    description: str = ""
    type: str = "http"

    @cached_property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)

    @property
    def route_path(self) -> str:
        """The path in django-ninja's syntax: ``/todos/{id}/complete``."""
        return _PATH_PARAM.sub(r"{\1}", self.path)


@dataclass(frozen=True)
class QueueTrigger:
    """Messages enqueued to ``topic``; ``input`` validates them, ``condition(input, ctx)``
    may skip them, ``config`` sets retries (``max_retries``, ``backoff_ms``,
    ``delay_seconds``)."""

    topic: str
    input: type[pydantic.BaseModel] | None = None
    condition: Callable[..., Any] | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    type: str = "queue"

    def __post_init__(self) -> None:
        self.retry  # noqa: B018 - parse the retry config now, so a bad one fails at load time

    @cached_property
    def retry(self) -> "RetryPolicy":
        from .retry import RetryPolicy

        return RetryPolicy.from_config(self.config, f"queue trigger {self.topic!r}")


@dataclass(frozen=True)
class StreamTrigger:
    """Committed changes (and custom events) of a stream, optionally of one group or item;
    ``condition(input)`` filters them."""

    stream_name: str
    group_id: str | None = None
    item_id: str | None = None
    condition: Callable[..., Any] | None = None
    type: str = "stream"


@dataclass(frozen=True)
class CronTrigger:
    """A schedule: a 5-field crontab, or 6 fields with the seconds first."""

    expression: str
    type: str = "cron"

    def __post_init__(self) -> None:
        from .cron import validate_expression

        try:
            validate_expression(self.expression)
        except ValueError as error:
            raise StepConfigError(str(error)) from None


Trigger = HttpTrigger | QueueTrigger | StreamTrigger | CronTrigger


def parse_trigger(raw: Mapping[str, Any], where: str) -> Trigger:
    if not isinstance(raw, Mapping):
        raise StepConfigError(f"{where}: a trigger must be a dict")
    data = _normalise(raw)
    kind = data.pop("type", None)
    try:
        if kind == "http":
            method = str(data.pop("method", "")).upper()
            if method not in HTTP_METHODS:
                raise StepConfigError(f"{where}: unknown HTTP method {method!r}")
            path = data.pop("path", None)
            if not isinstance(path, str) or not path.startswith("/"):
                raise StepConfigError(f"{where}: 'path' must start with '/'")
            body = _schema(data.pop("body_schema", None), f"{where}: 'body_schema'")
            query = tuple(data.pop("query_params", ()) or ())
            responses = _response_schemas(
                data.pop("response_schema", None), f"{where}: 'response_schema'"
            )
            return HttpTrigger(method, path, body, query, responses, **data)
        if kind == "queue":
            topic = data.pop("topic", None)
            if not isinstance(topic, str) or not topic:
                raise StepConfigError(f"{where}: 'topic' must be a non-empty string")
            return QueueTrigger(
                topic, _schema(data.pop("input", None), f"{where}: 'input'"), **data
            )
        if kind == "stream":
            name = data.pop("stream_name", None)
            if not isinstance(name, str) or not name:
                raise StepConfigError(f"{where}: 'stream_name' must be a non-empty string")
            return StreamTrigger(name, **data)
        if kind == "cron":
            expression = data.pop("expression", None) or data.pop("cron", None)
            if not isinstance(expression, str) or len(expression.split()) not in (5, 6):
                raise StepConfigError(f"{where}: 'expression' must be a 5- or 6-field crontab")
            return CronTrigger(expression, **data)
    except TypeError as error:  # an unexpected key
        raise StepConfigError(f"{where}: {error}") from None
    raise StepConfigError(f"{where}: unknown trigger type {kind!r}")


@dataclass(frozen=True)
class StepConfig:
    name: str
    triggers: tuple[Trigger, ...]
    enqueues: tuple[str, ...] = ()
    flows: tuple[str, ...] = ()
    description: str = ""
    virtual_enqueues: tuple[str, ...] = ()
    virtual_subscribes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "StepConfig":
        if not isinstance(raw, Mapping):
            raise StepConfigError("a step 'config' must be a dict")
        data = _normalise(raw)
        name = data.pop("name", None)
        if not isinstance(name, str) or not name:
            raise StepConfigError("a step needs a non-empty string 'name'")
        triggers = data.pop("triggers", None)
        if not triggers:
            raise StepConfigError(f"step {name!r}: 'triggers' must list at least one trigger")
        parsed = tuple(
            parse_trigger(t, f"step {name!r} trigger {i}") for i, t in enumerate(triggers)
        )
        lists = {}
        for key in ("enqueues", "flows", "virtual_enqueues", "virtual_subscribes"):
            value = data.pop(key, ()) or ()
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise StepConfigError(f"step {name!r}: {key!r} must be a list of strings")
            lists[key] = tuple(value)
        description = data.pop("description", "")
        if data:
            raise StepConfigError(f"step {name!r}: unknown config keys {sorted(data)}")
        return cls(name=name, triggers=parsed, description=description, **lists)

    def triggers_of(self, kind: type[Trigger]) -> list[Any]:
        return [t for t in self.triggers if isinstance(t, kind)]
