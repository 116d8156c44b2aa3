"""What a Motia ``FlowContext`` carries besides the trigger: ``logger``, ``enqueue``,
``state`` and ``streams`` (Motia 1.0.0 to 1.0.2 handlers use them; later ones import the
module-level ``logger``, ``enqueue`` and ``stateManager``, which are the same objects)."""

from collections.abc import Iterator, Mapping
from typing import Any

from streams.definitions import registry
from streams.publishing import current_trace_id
from streams.runtime import FlowLogger

from ..definitions import new_trace_id
from .types import FlowContext, TriggerInfo


class StreamsView(Mapping[str, Any]):
    """``ctx.streams``: the project's streams by name, as Motia ``Stream`` objects
    (``ctx.streams["todo"]``, or ``ctx.streams.todo``)."""

    def __getitem__(self, name: str) -> Any:
        from .streams import Stream

        if name not in registry:
            raise KeyError(name)
        return Stream(name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no stream {name!r} is defined") from None

    def __iter__(self) -> Iterator[str]:
        return iter(registry.names())

    def __len__(self) -> int:
        return len(registry.names())


def default_services() -> dict[str, Any]:
    """The services of a ``FlowContext`` made without them (the module-level ones)."""
    from .enqueue import enqueue
    from .logger import logger
    from .state import stateManager

    return {"enqueue": enqueue, "logger": logger, "state": stateManager, "streams": StreamsView()}


def flow_context(engine_ctx: Any, trigger: TriggerInfo, input_value: Any) -> FlowContext[Any]:
    """The Motia ``ctx`` of a run whose engine context is ``engine_ctx``: its trace id and a
    logger that records into the run."""
    from .logger import Logger

    trace_id = getattr(engine_ctx, "trace_id", None) or current_trace_id.get() or new_trace_id()
    flow_logger = getattr(engine_ctx, "logger", None)
    services = {"logger": Logger(flow_logger)} if isinstance(flow_logger, FlowLogger) else {}
    return FlowContext(trace_id=trace_id, trigger=trigger, input_value=input_value, **services)
