"""What queue, stream and cron handlers receive as ``input`` (pure values)."""

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pydantic

from streams.definitions import describe_errors, field_errors, json_schema_errors
from streams.publishing import StreamEvent

from .config import QueueTrigger


class InvalidInput(ValueError):
    """A queue message does not match its trigger's ``input`` schema."""

    def __init__(self, topic: str, errors: list[dict[str, Any]]) -> None:
        self.topic = topic
        self.errors = errors
        summary = describe_errors(errors, "<data>")
        super().__init__(f"invalid message for topic {topic!r}: {summary}")


def validate_queue_input(trigger: QueueTrigger, data: Any) -> pydantic.BaseModel | Any:
    """The handler's input: the validated model when the trigger's ``input`` is a model,
    ``data`` itself (validated) when it is a JSON-schema dict or there is none."""
    schema, validator = trigger.input, trigger.input_validator
    if validator is not None:
        errors = json_schema_errors(validator, data)
        if errors:
            raise InvalidInput(trigger.topic, errors)
        return data
    if schema is None:
        return data
    assert isinstance(schema, type)
    try:
        return schema.model_validate(data)
    except pydantic.ValidationError as error:
        raise InvalidInput(trigger.topic, field_errors(error)) from None


@dataclass(frozen=True)
class StreamChange:
    """``input.event``: ``type`` is create/update/delete (``data`` the new item, or the old
    one for a delete) or ``event`` for a custom event (``data`` is ``{"type", "data"}``)."""

    type: str
    data: Any


@dataclass(frozen=True)
class StreamTriggerInput:
    """The input of a stream-triggered step (and of its ``condition``)."""

    stream_name: str
    group_id: str
    id: str | None
    timestamp: int
    event: StreamChange

    @classmethod
    def from_event(cls, event: StreamEvent) -> "StreamTriggerInput":
        return cls(
            stream_name=event.stream_name,
            group_id=event.group_id,
            id=event.item_id,
            timestamp=event.timestamp,
            event=StreamChange(event.type, event.data),
        )

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> "StreamTriggerInput":
        fields = dict(payload)
        fields["event"] = StreamChange(**fields["event"])
        return cls(**fields)


@dataclass(frozen=True)
class CronInput:
    """The input of a cron-triggered step."""

    expression: str
    fired_at: str
