"""Motia's types (``motia.types``): step and trigger configs, requests and responses, the
trigger inputs and ``FlowContext``, with the names and fields of Motia 1.0's Python SDK.

The configs are pydantic models as in Motia, and as lenient: a step's config is read for
real, with every problem reported by ``manage.py check``, when the step is registered
(:mod:`steps.motia.adapter`). The trigger inputs of stream and state steps are records
(:mod:`steps.motia.records`): Motia's engine passes dicts, its examples read attributes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from .records import Record

TInput = TypeVar("TInput")
TOutput = TypeVar("TOutput")
TEnqueueData = TypeVar("TEnqueueData")
TBody = TypeVar("TBody")

_list = list  # InternalStateManager.list shadows the builtin in its class body

Enqueuer = Callable[[Any], Awaitable[None]]
TriggerInput = Any
ApiRouteMethod = Literal["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]


def _either(name: str, camel: str) -> Any:
    """A field read as ``name`` or ``camel`` (Motia writes both)."""
    return Field(default=None, validation_alias=AliasChoices(name, camel))


class _Model(BaseModel):
    """Motia's models: arbitrary values (schemas, callables) allowed, either spelling taken,
    unknown keys ignored (as Motia does; the registry warns of them)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True, extra="allow")


class InternalStateManager(Protocol):
    """What ``ctx.state`` offers (Motia 1.0.0 to 1.0.2)."""

    def get(self, scope: str, key: str) -> Any: ...
    def set(self, scope: str, key: str, value: Any) -> Any: ...
    def update(self, scope: str, key: str, ops: _list[dict[str, Any]]) -> Any: ...
    def delete(self, scope: str, key: str) -> Any: ...
    def list(self, scope: str) -> Any: ...
    def clear(self, scope: str) -> Any: ...
    def list_groups(self) -> Any: ...


# --- triggers --------------------------------------------------------------------------------


class Enqueue(_Model):
    """An ``enqueues`` entry as an object: the topic, and how the flows overview labels it."""

    topic: str
    label: str | None = None
    conditional: bool = False


class HandlerConfig(_Model):
    """Motia's infrastructure hints for a handler (memory, CPU, timeout): unused here."""

    ram: int = 128
    cpu: int | None = None
    timeout: int = 30


class QueueConfig(_Model):
    """A queue trigger's ``config``. Only the keys given are passed on (see
    ``model_fields_set``): defaults are the engine's."""

    type: Literal["fifo", "standard"] = "standard"
    max_retries: int | None = _either("max_retries", "maxRetries")
    visibility_timeout: int | None = _either("visibility_timeout", "visibilityTimeout")
    delay_seconds: int | None = _either("delay_seconds", "delaySeconds")
    concurrency: int | None = None
    backoff_type: str | None = _either("backoff_type", "backoffType")
    backoff_delay_ms: int | None = _either("backoff_delay_ms", "backoffDelayMs")


class QueryParam(_Model):
    """A query parameter an http trigger documents."""

    name: str
    description: str = ""


TriggerCondition = Callable[..., Any]


class ApiTrigger(_Model):
    """An http trigger (``http(method, path, ...)``)."""

    type: Literal["http"] = "http"
    path: str
    method: str
    condition: Callable[..., Any] | None = None
    middleware: _list[Any] | None = None
    body_schema: Any = _either("body_schema", "bodySchema")
    response_schema: dict[int, Any] | None = _either("response_schema", "responseSchema")
    query_params: _list[Any] | None = _either("query_params", "queryParams")


class QueueTrigger(_Model):
    """A queue trigger (``queue(topic, ...)``)."""

    type: Literal["queue"] = "queue"
    topic: str
    condition: Callable[..., Any] | None = None
    input: Any = None
    config: Any = None


class CronTrigger(_Model):
    """A cron trigger (``cron(expression)``): 5, 6 or 7 fields."""

    type: Literal["cron"] = "cron"
    expression: str
    condition: Callable[..., Any] | None = None


class StateTrigger(_Model):
    """A state trigger (``state(condition=...)``): runs on every change of the state that
    ``condition(input, ctx)`` accepts."""

    type: Literal["state"] = "state"
    condition: Callable[..., Any] | None = None


class StreamTrigger(_Model):
    """A stream trigger (``stream(name, ...)``): changes and custom events of a stream."""

    type: Literal["stream"] = "stream"
    stream_name: str = Field(validation_alias=AliasChoices("stream_name", "streamName"))
    group_id: str | None = _either("group_id", "groupId")
    item_id: str | None = _either("item_id", "itemId")
    condition: Callable[..., Any] | None = None


TriggerConfig = QueueTrigger | ApiTrigger | CronTrigger | StateTrigger | StreamTrigger


def state(*, condition: TriggerCondition | None = None) -> StateTrigger:
    """A state trigger."""
    return StateTrigger(condition=condition)


def stream(
    stream_name: str,
    *,
    group_id: str | None = None,
    item_id: str | None = None,
    condition: TriggerCondition | None = None,
) -> StreamTrigger:
    """A stream trigger."""
    return StreamTrigger(
        stream_name=stream_name, group_id=group_id, item_id=item_id, condition=condition
    )


class StepConfig(_Model):
    """A step's config. Triggers and enqueues are kept as given (models or dicts)."""

    name: str
    triggers: _list[Any]
    enqueues: _list[Any] = Field(default_factory=list)
    virtual_enqueues: _list[Any] | None = _either("virtual_enqueues", "virtualEnqueues")
    virtual_subscribes: _list[str] | None = _either("virtual_subscribes", "virtualSubscribes")
    description: str | None = None
    flows: _list[str] | None = None
    include_files: _list[str] | None = _either("include_files", "includeFiles")


class Step(_Model):
    """A step as Motia's tooling describes it: its file and its config."""

    file_path: str = Field(validation_alias=AliasChoices("file_path", "filePath"))
    config: StepConfig


# --- what handlers get and return ------------------------------------------------------------


class TriggerInfo(_Model):
    """``ctx.trigger``: which trigger fired (its ``type`` and index, and what names it)."""

    type: Literal["http", "queue", "cron", "state", "stream"]
    index: int | None = None
    path: str | None = None
    method: str | None = None
    topic: str | None = None
    expression: str | None = None


class ApiRequest(BaseModel, Generic[TBody]):
    """An http request as a condition (and an older handler) reads it."""

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    path_params: dict[str, str] = Field(
        default_factory=dict, validation_alias=AliasChoices("path_params", "pathParams")
    )
    query_params: dict[str, str | _list[str]] = Field(
        default_factory=dict, validation_alias=AliasChoices("query_params", "queryParams")
    )
    body: TBody | None = None
    headers: dict[str, str | _list[str]] = Field(default_factory=dict)


class ApiResponse(BaseModel, Generic[TOutput]):
    """What an http handler answers: ``status``, ``body`` and ``headers``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    status: int
    body: Any = None
    headers: dict[str, str] = Field(default_factory=dict)


class StreamEvent(Record):
    """``input.event`` of a stream trigger: ``type`` (create, update, delete, or event for a
    custom event, then under ``event``) and ``data``."""

    fields = ("type", "data")


class StreamTriggerInput(Record):
    """The input of a stream-triggered handler, as Motia's engine sends it: ``type``,
    ``timestamp``, ``streamName``, ``groupId``, ``id`` and ``event``."""

    fields = ("type", "timestamp", "streamName", "groupId", "id", "event")

    def __init__(self, data: Mapping[str, Any] | None = None, /, **values: Any) -> None:
        super().__init__(data, **values)
        if self["type"] is None:
            self["type"] = "stream"
        event = self["event"]
        if isinstance(event, Mapping) and not isinstance(event, StreamEvent):
            self["event"] = StreamEvent(event)


class StateTriggerInput(Record):
    """The input of a state-triggered handler: ``group_id`` (the scope), ``item_id`` (the
    key), ``old_value``, ``new_value``, and ``event_type`` (``state:created``, ``:updated``,
    ``:deleted``). ``scope`` and ``key``, as Motia's engine names them, read the same."""

    fields = ("type", "event_type", "group_id", "item_id", "old_value", "new_value")
    aliases = {"scope": "group_id", "key": "item_id"}

    def __init__(self, data: Mapping[str, Any] | None = None, /, **values: Any) -> None:
        super().__init__(data, **values)
        if self["type"] is None:
            self["type"] = "state"


# --- FlowContext -----------------------------------------------------------------------------

Handler = Callable[..., Any]

# ``ctx.match`` keys by trigger type; the trigger types whose handler gets the input.
_MATCH_KEYS = {
    "queue": ("queue",),
    "http": ("http", "api"),
    "cron": ("cron",),
    "state": ("state",),
    "stream": ("stream",),
}


class FlowContext(Generic[TEnqueueData]):
    """``ctx``: the trace id, the trigger that fired (``trigger``, ``is_queue()`` ...), the
    handler's input (``input_value``, ``get_data()``) and ``match()``; and, as Motia 1.0.0
    to 1.0.2 had them, ``logger``, ``enqueue``, ``state`` and ``streams``.

    Anything may be set on it (a middleware's ``ctx.user``); the handler sees it."""

    def __init__(
        self,
        *,
        trace_id: str = "",
        trigger: TriggerInfo | Mapping[str, Any] | None = None,
        input_value: Any = None,
        **services: Any,
    ) -> None:
        from .services import default_services  # the Stream and state modules import these

        self.trace_id = trace_id
        if isinstance(trigger, Mapping):
            trigger = TriggerInfo.model_validate(trigger)
        self.trigger = trigger or TriggerInfo(type="queue")
        self.input_value = input_value
        for name, value in {**default_services(), **services}.items():
            setattr(self, name, value)

    def is_queue(self) -> bool:
        return self.trigger.type == "queue"

    def is_api(self) -> bool:
        return self.trigger.type == "http"

    is_http = is_api

    def is_cron(self) -> bool:
        return self.trigger.type == "cron"

    def is_state(self) -> bool:
        return self.trigger.type == "state"

    def is_stream(self) -> bool:
        return self.trigger.type == "stream"

    def get_data(self) -> Any:
        """The payload of the input whatever the trigger: an http request's body, a queue
        message, a stream or state change; None for cron."""
        if self.is_cron():
            return None
        request = getattr(self.input_value, "request", None)
        if request is not None and hasattr(request, "body"):
            return request.body
        if isinstance(self.input_value, ApiRequest):
            return self.input_value.body
        return self.input_value

    def match(self, handlers: Mapping[str, Handler]) -> Any:
        """Run the handler of ``handlers`` named after the trigger type (``http`` or ``api``,
        ``queue``, ``cron``, ``state``, ``stream``; else ``default``) with the input (cron
        handlers get nothing). Awaitable in an async handler; in a plain one, it runs now and
        returns the result."""
        from .running import call_matched  # runs it as the current run's mode says

        handler, args = self._matched(handlers)
        return call_matched(handler, args)

    def _matched(self, handlers: Mapping[str, Handler]) -> tuple[Handler, tuple[Any, ...]]:
        kind = self.trigger.type
        for key in _MATCH_KEYS.get(kind, ()):
            if handlers.get(key):
                return handlers[key], (() if kind == "cron" else (self.input_value,))
        if handlers.get("default"):
            return handlers["default"], (self.input_value,)
        available = ", ".join(key for key in handlers if key != "default")
        raise RuntimeError(
            f"No handler matched for trigger type: {kind}. Available handlers: {available}"
        )

    def __repr__(self) -> str:
        return f"FlowContext(trace_id={self.trace_id!r}, trigger={self.trigger!r})"


# --- http: MotiaHttpArgs ---------------------------------------------------------------------


class MotiaHttpRequest(Generic[TBody]):
    """The request part of an http handler's argument: ``path_params``, ``query_params``,
    ``body``, ``headers`` (keys in lower case, looked up in any case), ``method`` and
    ``request_body`` (the raw body, a :class:`~steps.motia.channels.ChannelReader`)."""

    def __init__(
        self,
        *,
        path_params: dict[str, str] | None = None,
        query_params: dict[str, str | _list[str]] | None = None,
        body: TBody | None = None,
        headers: Mapping[str, str | _list[str]] | None = None,
        method: str = "",
        request_body: Any = None,
    ) -> None:
        self.path_params = path_params or {}
        self.query_params = query_params or {}
        self.body = body
        self.headers = headers if headers is not None else {}
        self.method = method
        self.request_body = request_body

    @property
    def pathParams(self) -> dict[str, str]:
        return self.path_params

    @property
    def queryParams(self) -> dict[str, str | _list[str]]:
        return self.query_params


class MotiaHttpResponse:
    """The response part: ``await status(code)``, ``await headers({...})``, then the body
    through ``writer.stream.write(bytes)``, and ``close()``: a streamed response (SSE)."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer

    async def status(self, status_code: int) -> None:
        if self._writer is not None:
            self._writer.set_status(status_code)

    async def headers(self, headers: Mapping[str, str]) -> None:
        if self._writer is not None:
            self._writer.set_headers(headers)

    @property
    def writer(self) -> Any:
        return self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


class MotiaHttpArgs(Generic[TBody]):
    """An http handler's argument: ``request`` and ``response``, with the request's fields
    readable on it too (``args.body``, ``args.path_params``, ``args.get("headers")``), as
    handlers written for ``ApiRequest`` read them."""

    def __init__(self, request: MotiaHttpRequest[TBody], response: MotiaHttpResponse) -> None:
        self.request = request
        self.response = response

    @property
    def path_params(self) -> dict[str, str]:
        return self.request.path_params

    @property
    def query_params(self) -> dict[str, str | _list[str]]:
        return self.request.query_params

    @property
    def body(self) -> TBody | None:
        return self.request.body

    @property
    def headers(self) -> Mapping[str, str | _list[str]]:
        return self.request.headers

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def request_body(self) -> Any:
        return self.request.request_body

    pathParams = MotiaHttpRequest.pathParams
    queryParams = MotiaHttpRequest.queryParams

    def get(self, key: str, default: Any = None) -> Any:
        """Dict-like reading, for handlers written against dict requests."""
        if key in ("request", "response"):
            return getattr(self, key)
        if key in _REQUEST_FIELDS:
            return getattr(self.request, key)
        return default


_REQUEST_FIELDS = ("path_params", "query_params", "body", "headers", "method", "request_body")

ApiMiddleware = Callable[
    [Any, FlowContext[Any], Callable[[], Awaitable[Any]]],
    Awaitable[Any],
]
