"""Step definitions: a step's ``config`` and its triggers, parsed and checked (no I/O).

A step module (``*_step.py``) defines ``config`` (a dict, as in Motia) and ``handler``::

    config = {
        "name": "CreateTodo",
        "triggers": [{"type": "http", "method": "POST", "path": "/todos", "body_schema": Body}],
        "flows": ["todo"],
    }

    async def handler(request, ctx): ...

The pydantic models below read a config. Every key may be written in snake_case or, as in
Motia, in camelCase (``bodySchema``, ``streamName``, ``config.maxRetries``), at every level;
a key neither spelling knows is refused. :meth:`StepConfig.parse` turns what the models refuse
into a :class:`StepConfigError` whose messages name the step, the trigger and the key, as the
user wrote it: ``step 'CreateTodo' trigger 0: 'path' must start with '/'``.
"""

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Annotated, Any, Literal, TypeGuard

import jsonschema
import pydantic
from pydantic import AfterValidator, AliasChoices, BeforeValidator, ConfigDict, Field
from pydantic import PlainValidator as Plain
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails, PydanticCustomError

from ..http import PATH_PARAM
from .crontab import validate_expression
from .retry import BackoffType, RetryPolicy

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
TRIGGER_TYPES = ("http", "queue", "stream", "cron")

# What validates JSON data (a request body, a queue message): a pydantic model, or a
# JSON-schema dict (Draft 2020-12), as Motia takes either.
DataSchema = type[pydantic.BaseModel] | Mapping[str, Any]
# What ``response_schema`` maps a status to: a pydantic model, a JSON-schema dict, or None for
# a response without a body (a 204).
ResponseSchema = DataSchema | None

ProblemKind = Literal["config", "cron", "duplicate"]


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a step: ``message`` names the step, the trigger and the key;
    ``kind`` sorts it for the system checks (a bad cron expression, a name two steps share,
    anything else)."""

    message: str
    kind: ProblemKind = "config"


class StepConfigError(ValueError):
    """A step's ``config`` is not valid; ``problems`` lists each thing wrong with it."""

    def __init__(self, *problems: ConfigProblem | str) -> None:
        self.problems = tuple(
            p if isinstance(p, ConfigProblem) else ConfigProblem(p) for p in problems
        )
        super().__init__("\n".join(problem.message for problem in self.problems))


# --- validators of single values -------------------------------------------------------------

# The error types of the validators below. A "refusal" message reads after the key's name
# ("'path' must start with '/'"); the others are sentences of their own.
_REFUSAL = "step_config"
_CRON = "cron_expression"


def _refuse(predicate: str) -> PydanticCustomError:
    return PydanticCustomError(_REFUSAL, predicate)


def _none_as(empty: Any) -> BeforeValidator:
    """Read a key given as ``None`` (as Motia's Python types allow) as its empty value."""
    return BeforeValidator(lambda value: empty if value is None else value)


def _is_model_class(value: Any) -> TypeGuard[type[pydantic.BaseModel]]:
    return isinstance(value, type) and issubclass(value, pydantic.BaseModel)


def _json_schema_problem(schema: Mapping[str, Any]) -> str | None:
    """Why ``schema`` is not a JSON schema (Draft 2020-12), or None when it is one."""
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        return f"is not a JSON schema: {error.message}"
    return None


def _data_schema(value: Any) -> DataSchema | None:
    if value is None or _is_model_class(value):
        return value
    if isinstance(value, Mapping):
        problem = _json_schema_problem(value)
        if problem is not None:
            raise _refuse(problem)
        return value
    raise _refuse("must be a pydantic model class or a JSON-schema dict")


def json_validator(schema: DataSchema | None) -> jsonschema.Draft202012Validator | None:
    """The validator of a JSON-schema dict; None for a model or no schema."""
    return jsonschema.Draft202012Validator(schema) if isinstance(schema, Mapping) else None


def _method(value: Any) -> str:
    method = value.upper() if isinstance(value, str) else value
    if method not in HTTP_METHODS:
        raise _refuse(f"must be one of {', '.join(HTTP_METHODS)}, not {value!r}")
    return method


def _path(value: str) -> str:
    if not value.startswith("/"):
        raise _refuse("must start with '/'")
    return value


def _status(key: Any) -> int:
    try:
        status = int(key)
    except (TypeError, ValueError):
        status = 0
    if isinstance(key, bool) or not 100 <= status <= 599:
        raise _refuse(f"has {key!r}, which is not an HTTP status code")
    return status


def _response_schemas(value: Any) -> dict[int, ResponseSchema] | None:
    """Motia's ``responseSchema``: a mapping of status code to the body's schema."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _refuse("must map status codes to schemas")
    schemas: dict[int, ResponseSchema] = {}
    for key, schema in value.items():
        status = _status(key)
        if isinstance(schema, Mapping):
            problem = _json_schema_problem(schema)
            if problem is not None:
                raise _refuse(f"[{status}] {problem}")
        elif schema is not None and not _is_model_class(schema):
            raise _refuse(f"[{status}] must be a pydantic model class, a JSON-schema dict or None")
        schemas[status] = schema
    return schemas


def _cron_expression(value: str) -> str:
    try:
        validate_expression(value)
    except ValueError as error:
        raise PydanticCustomError(_CRON, str(error)) from None
    return value


def _at_least_one(triggers: tuple[Any, ...]) -> tuple[Any, ...]:
    if not triggers:
        raise _refuse("must list at least one trigger")
    return triggers


NonEmpty = Annotated[str, Field(min_length=1)]
Text = Annotated[str, _none_as("")]
Names = Annotated[tuple[str, ...], _none_as(())]
Schema = Annotated[DataSchema | None, Plain(_data_schema)]
Condition = Callable[..., Any] | None
Middleware = Annotated[tuple[Callable[..., Any], ...], _none_as(())]
# Numbers that must be numbers: strict refuses "5" and True (pydantic would take both).
Count = Annotated[int, Field(ge=0, strict=True)]
Amount = Annotated[float, Field(ge=0, strict=True)]


# --- the models --------------------------------------------------------------------------------


class _Config(pydantic.BaseModel):
    """A part of a step config: immutable, each key in either spelling, unknown keys refused."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
    )


class Enqueue(_Config):
    """An ``enqueues`` entry written as Motia's object: the topic, and a label and whether it
    is conditional, which only describe the edge."""

    topic: NonEmpty
    label: str | None = None
    conditional: bool = False


def _topic(value: Any) -> Any:
    return Enqueue.model_validate(value).topic if isinstance(value, Mapping) else value


# The topics of ``enqueues``: strings, or Motia's ``{"topic", "label", "conditional"}``.
Topics = Annotated[tuple[Annotated[str, BeforeValidator(_topic)], ...], _none_as(())]


class QueryParam(_Config):
    """A query parameter an http trigger documents."""

    name: NonEmpty
    description: str = ""


class HttpTrigger(_Config):
    """A REST endpoint: ``path`` uses ``:name`` for path parameters, as in Motia.

    ``body_schema`` (a pydantic model or a JSON-schema dict) validates the body.
    ``response_schema`` maps status codes to what the handler answers with them (a pydantic
    model, a JSON-schema dict, or None for no body): it documents the endpoint in OpenAPI and,
    with ``STEPS_VALIDATE_RESPONSES``, is checked against every response.

    ``condition(request, ctx)`` (or ``condition(request)``) may refuse a request before the
    handler runs (422); ``middleware`` is a list of ``middleware(request, ctx, next)`` around
    the handler, the first outermost (:mod:`steps.http.chain`)."""

    type: Literal["http"] = "http"
    method: Annotated[str, Plain(_method)]
    path: Annotated[str, AfterValidator(_path)]
    body_schema: Schema = None
    query_params: Annotated[tuple[QueryParam, ...], _none_as(())] = ()
    response_schema: Annotated[Mapping[int, ResponseSchema] | None, Plain(_response_schemas)] = None
    description: Text = ""
    condition: Condition = None
    middleware: Middleware = ()

    @cached_property
    def path_params(self) -> list[str]:
        return PATH_PARAM.findall(self.path)

    @cached_property
    def body_validator(self) -> jsonschema.Draft202012Validator | None:
        return json_validator(self.body_schema)


def _queue_type(value: Any) -> str:
    if value != "standard":
        raise _refuse(
            f"must be 'standard', not {value!r}: Celery does not keep a topic's messages in "
            "order, so there are no FIFO queues"
        )
    standard: str = value
    return standard


class QueueConfig(_Config):
    """A queue trigger's ``config``, with Motia's keys: ``maxRetries``, ``backoffType``
    (``"exponential"`` or ``"fixed"``), ``backoffDelayMs`` (also ``backoffMs``) and
    ``delaySeconds`` before the first run.

    ``type`` can only be ``"standard"``. ``visibilityTimeout`` and ``concurrency`` are taken
    but have no effect per trigger (a system check says so): the broker's visibility timeout
    and the workers' concurrency apply to every step."""

    type: Annotated[str, Plain(_queue_type)] = "standard"
    max_retries: Count = 3
    backoff_type: BackoffType = "exponential"
    backoff_ms: Annotated[
        float,
        Field(
            ge=0,
            strict=True,
            validation_alias=AliasChoices(
                "backoffDelayMs", "backoff_delay_ms", "backoffMs", "backoff_ms"
            ),
        ),
    ] = 1000
    delay_seconds: Amount = 0
    visibility_timeout: Amount | None = None
    concurrency: Annotated[int, Field(gt=0, strict=True)] | None = None

    @cached_property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(self.max_retries, self.backoff_ms, self.backoff_type, self.delay_seconds)


class QueueTrigger(_Config):
    """Messages enqueued to ``topic``; ``input`` (a pydantic model or a JSON-schema dict)
    validates them, ``condition(input, ctx)`` may skip them, ``config`` sets retries
    (:class:`QueueConfig`)."""

    type: Literal["queue"] = "queue"
    topic: NonEmpty
    input: Schema = None
    condition: Condition = None
    config: Annotated[QueueConfig, _none_as({})] = Field(default_factory=QueueConfig)

    @cached_property
    def input_validator(self) -> jsonschema.Draft202012Validator | None:
        return json_validator(self.input)

    @property
    def retry(self) -> RetryPolicy:
        return self.config.retry


class StreamTrigger(_Config):
    """Committed changes (and custom events) of a stream, optionally of one group or item;
    ``condition(input)`` filters them."""

    type: Literal["stream"] = "stream"
    stream_name: NonEmpty
    group_id: str | None = None
    item_id: str | None = None
    condition: Condition = None


class CronTrigger(_Config):
    """A schedule: a 5-field crontab, 6 fields with the seconds first, or 7 with the seconds
    first and a year last (as Motia 1.0 writes them; ``cron`` is taken for ``expression``, as
    in Motia's older configs); ``condition(input, ctx)`` may skip a run."""

    type: Literal["cron"] = "cron"
    expression: Annotated[
        str,
        AfterValidator(_cron_expression),
        Field(validation_alias=AliasChoices("expression", "cron")),
    ]
    condition: Condition = None


Trigger = HttpTrigger | QueueTrigger | StreamTrigger | CronTrigger


class StepConfig(_Config):
    """A step's ``config``: its ``name``, ``triggers`` and the topics it ``enqueues``;
    ``flows``, ``description`` and the ``virtual_*`` topics describe it (the flows overview).
    Motia's ``includeFiles`` is taken and has nothing to do here."""

    name: NonEmpty
    triggers: Annotated[
        tuple[Annotated[Trigger, Field(discriminator="type")], ...], AfterValidator(_at_least_one)
    ]
    enqueues: Topics = ()
    flows: Names = ()
    description: Text = ""
    virtual_enqueues: Topics = ()
    virtual_subscribes: Names = ()
    include_files: Names = ()

    @classmethod
    def parse(cls, raw: Any) -> "StepConfig":
        """Read a step module's ``config``; raises :class:`StepConfigError` naming every
        problem."""
        try:
            return cls.model_validate(raw)
        except pydantic.ValidationError as error:
            raise StepConfigError(*(_problem(e, raw) for e in error.errors())) from None

    def triggers_of(self, kind: type[Trigger]) -> list[Any]:
        return [t for t in self.triggers if isinstance(t, kind)]


# --- error messages ----------------------------------------------------------------------------

_EXPECTED_TYPES = ", ".join(repr(t) for t in TRIGGER_TYPES)
_NOT_A_DICT = {"model_type", "model_attributes_type", "dict_type"}
_NOT_A_LIST = {"tuple_type", "list_type"}


def _problem(error: ErrorDetails, raw: Any) -> ConfigProblem:
    """One of pydantic's errors as a problem naming the step, the trigger and the key."""
    if not error["loc"]:
        return ConfigProblem("a step's 'config' must be a dict")
    name = raw.get("name") if isinstance(raw, Mapping) else None
    where = f"step {name!r}" if isinstance(name, str) and name else "step"
    loc: Sequence[int | str] = error["loc"]
    if len(loc) >= 2 and loc[0] == "triggers" and isinstance(loc[1], int):
        where += f" trigger {loc[1]}"
        loc = loc[2:]
        if loc and loc[0] in TRIGGER_TYPES:  # the tag of the trigger's model, not a key
            loc = loc[1:]
    kind: ProblemKind = "cron" if error["type"] == _CRON else "config"
    return ConfigProblem(f"{where}: {_describe(error, loc, raw)}", kind)


def _describe(error: ErrorDetails, loc: Sequence[int | str], raw: Any) -> str:
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    key = key.removeprefix(".")
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return _unknown_key(key, str(loc[-1]), _container(raw, error["loc"][:-1]))
    if kind == "missing":
        return f"'{key}' is required"
    if kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag")
        return f"unknown trigger type {tag!r} (expected {_EXPECTED_TYPES})"
    if kind == "union_tag_not_found":
        return f"a trigger needs a 'type' ({_EXPECTED_TYPES})"
    if kind in _NOT_A_DICT:
        message = "must be a dict"
    elif kind in _NOT_A_LIST:
        message = "must be a list"
    elif kind not in (_REFUSAL, _CRON):
        message = message[:1].lower() + message[1:]
    if not key:
        return message
    refusal = kind in (_REFUSAL, *_NOT_A_DICT, *_NOT_A_LIST)
    return f"'{key}' {message}" if refusal else f"'{key}': {message}"


def _container(raw: Any, loc: Sequence[int | str]) -> Any:
    """The dict of ``raw`` that ``loc`` (pydantic's, with a trigger's tag in it) leads to."""
    node = raw
    for part in loc:
        is_key = isinstance(node, Mapping) and part in node
        is_index = isinstance(node, list | tuple) and isinstance(part, int) and part < len(node)
        if is_key or is_index:  # else it is the tag, which pydantic's loc has and raw has not
            node = node[part]
    return node


def _unknown_key(path: str, key: str, container: Any) -> str:
    spellings = next((s for s in _spellings() if key in s), frozenset())
    given = sorted(spellings & set(container) - {key}) if isinstance(container, Mapping) else []
    if given:
        return f"'{path}' and {given[0]!r} are the same key: give it once"
    folded = [known for s in _spellings() for known in s if known.lower() == key.lower()]
    close = folded or difflib.get_close_matches(key, sorted(set().union(*_spellings())), 1, 0.75)
    return f"unknown key '{path}'" + (f" (did you mean {close[0]!r}?)" if close else "")


@cache
def _spellings() -> list[frozenset[str]]:
    """For each key of the config models, every spelling it is taken in."""
    models = (StepConfig, HttpTrigger, QueryParam, QueueTrigger, QueueConfig, Enqueue)
    spellings = []
    for model in (*models, StreamTrigger, CronTrigger):
        for name, field in model.model_fields.items():
            alias = field.validation_alias
            choices = alias.choices if isinstance(alias, AliasChoices) else ()
            names = {name, to_camel(name), *(c for c in choices if isinstance(c, str))}
            spellings.append(frozenset(names))
    return spellings
