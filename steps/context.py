"""``ctx``: what a step handler receives besides its input."""

import uuid
from dataclasses import dataclass, field

from streams.context import StreamContext
from streams.logger import FlowLogger
from streams.store import Streams


def new_trace_id() -> str:
    return str(uuid.uuid4())


@dataclass
class FlowContext(StreamContext):
    """The handler context: ``ctx.streams``, ``ctx.logger`` (structured, carrying the trace
    id) and ``ctx.trace_id``."""

    trace_id: str = field(default_factory=new_trace_id)
    step_name: str = ""

    @classmethod
    def for_step(
        cls, step_name: str, *, trace_id: str | None = None, sync: bool = False, user: object = None
    ) -> "FlowContext":
        trace_id = trace_id or new_trace_id()
        return cls(
            streams=Streams(sync=sync),
            logger=FlowLogger("steps", trace_id=trace_id, step=step_name),
            user=user,
            trace_id=trace_id,
            step_name=step_name,
        )
