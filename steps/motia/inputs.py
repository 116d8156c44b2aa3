"""What a Motia handler gets, from what the engine gives: the trigger that fired, as
``ctx.trigger`` reads it, and the input in Motia's shape (pure, no I/O)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pydantic

from ..definitions import CronTrigger, HttpTrigger, QueueTrigger, StreamTrigger, Trigger
from .channels import ChannelReader, ChannelWriter, ResponseChannel
from .definitions import STATE_TOPIC, TriggerKind
from .types import (
    ApiRequest,
    MotiaHttpArgs,
    MotiaHttpRequest,
    MotiaHttpResponse,
    StateTriggerInput,
    StreamTriggerInput,
    TriggerInfo,
)

if TYPE_CHECKING:  # the engine's http module is the server's: workers need not import it
    from ..definitions import StreamTriggerInput as EngineStreamInput
    from ..http import ApiRequest as EngineRequest


def trigger_kind(trigger: Trigger) -> TriggerKind:
    if isinstance(trigger, HttpTrigger):
        return "http"
    if isinstance(trigger, CronTrigger):
        return "cron"
    if isinstance(trigger, StreamTrigger):
        return "stream"
    return "state" if trigger.topic == STATE_TOPIC else "queue"


def trigger_index(ctx: Any) -> int:
    """The index, in its step's config, of the trigger that fired (``ctx`` is the engine's)."""
    for index, trigger in enumerate(ctx.step.config.triggers):
        if trigger is ctx.trigger:
            return index
    raise LookupError(f"{ctx.trigger!r} is not a trigger of {ctx.step.name!r}")


def trigger_info(trigger: Trigger, index: int) -> TriggerInfo:
    """``ctx.trigger``: the trigger's type and index, with its path and method, topic or
    expression."""
    kind = trigger_kind(trigger)
    if isinstance(trigger, HttpTrigger):
        return TriggerInfo(type=kind, index=index, path=trigger.path, method=trigger.method)
    if isinstance(trigger, CronTrigger):
        return TriggerInfo(type=kind, index=index, expression=trigger.expression)
    if isinstance(trigger, QueueTrigger) and kind == "queue":
        return TriggerInfo(type=kind, index=index, topic=trigger.topic)
    return TriggerInfo(type=kind, index=index)


def stream_input(input: EngineStreamInput) -> StreamTriggerInput:
    """A stream change as Motia's engine sends it: a custom event is ``{"type": "event",
    "event": {"type", "data"}}``."""
    change = input.event
    if change.type == "event":
        event: dict[str, Any] = {"type": "event", "event": change.data}
    else:
        event = {"type": change.type, "data": change.data}
    return StreamTriggerInput(
        timestamp=input.timestamp,
        streamName=input.stream_name,
        groupId=input.group_id,
        id=input.id,
        event=event,
    )


def motia_input(kind: TriggerKind, input: Any) -> Any:
    """The input a Motia handler of a queue, cron, stream or state trigger gets."""
    if kind == "cron":
        return None
    if kind == "stream":
        return stream_input(input)
    if kind == "state":
        return StateTriggerInput(input)
    return input


class Headers(dict[str, Any]):
    """Request headers with lower-case keys (as Motia's engine gives them), looked up in any
    case."""

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


def request_body(request: EngineRequest) -> Any:
    """The body as sent: the JSON, never the engine's validated model (Motia passes the JSON
    on, whatever its ``bodySchema``)."""
    if isinstance(request.body, pydantic.BaseModel):
        return orjson.loads(request.django.body)
    return request.body


def request_headers(request: EngineRequest) -> Headers:
    return Headers({name.lower(): value for name, value in request.django.headers.items()})


def http_args(request: EngineRequest, channel: ResponseChannel) -> MotiaHttpArgs[Any]:
    """An http handler's argument: the request, and the response it may stream."""
    return MotiaHttpArgs(
        request=MotiaHttpRequest(
            path_params=dict(request.path_params),
            query_params=dict(request.query_params),
            body=request_body(request),
            headers=request_headers(request),
            method=request.django.method or "",
            request_body=ChannelReader(request.django.body),
        ),
        response=MotiaHttpResponse(ChannelWriter(channel)),
    )


def condition_request(request: EngineRequest) -> ApiRequest[Any]:
    """The request an http condition gets (Motia's ``ApiRequest``)."""
    return ApiRequest(
        path_params=dict(request.path_params),
        query_params=dict(request.query_params),
        body=request_body(request),
        headers=request_headers(request),
    )
