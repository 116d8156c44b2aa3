"""``ctx``: what a step handler receives besides its input."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async

from streams.runtime import FlowLogger
from streams.sockets import StreamContext
from streams.storage import Streams

from ..running import enqueue
from .config import Trigger
from .step_registry import Step


def new_trace_id() -> str:
    return str(uuid.uuid4())


@dataclass
class FlowContext(StreamContext):
    """The handler context: ``ctx.streams``, ``ctx.logger`` (structured, carrying the trace
    id), ``ctx.trace_id``, ``ctx.enqueue(...)`` and ``ctx.trigger`` (what started this run).

    In an async handler the stream calls and ``enqueue`` are awaited; in a plain one they
    are ordinary calls."""

    trace_id: str = field(default_factory=new_trace_id)
    step: Step | None = None
    trigger: Trigger | None = None
    sync: bool = False

    @property
    def step_name(self) -> str:
        return self.step.name if self.step is not None else ""

    @classmethod
    def for_step(
        cls,
        step: Step,
        *,
        trace_id: str | None = None,
        trigger: Trigger | None = None,
        sync: bool = False,
        user: object = None,
        log_records: list[dict[str, Any]] | None = None,
    ) -> "FlowContext":
        trace_id = trace_id or new_trace_id()
        return cls(
            streams=Streams(sync=sync),
            logger=FlowLogger("steps", trace_id=trace_id, step=step.name, records=log_records),
            user=user,
            trace_id=trace_id,
            step=step,
            trigger=trigger,
            sync=sync,
        )

    def enqueue(self, message: Mapping[str, Any]) -> Any:
        """Send ``{"topic": t, "data": d}`` to every step subscribed to ``t`` (awaitable in
        an async handler); returns how many steps it was sent to."""
        if self.sync:
            return self._enqueue(message)
        return database_sync_to_async(self._enqueue)(message)

    def _enqueue(self, message: Mapping[str, Any]) -> int:
        return enqueue(message, trace_id=self.trace_id, sender=self.step)
