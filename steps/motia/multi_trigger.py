"""Motia's ``multi_trigger_step()``: one step, a handler per trigger type, given as a dict
(``.handlers({"queue": ..., "http": ...})``) or chained (``.on_queue(...).on_http(...)
.handlers()``).

The step's handler calls the one of the trigger that fired: with ``(input, ctx)``, or
``(ctx)`` for cron (as Motia does), each given as many of them as it takes. It is async if one
of them is; a plain one then runs on a thread for plain code.
"""

from collections.abc import Callable, Mapping
from typing import Any

from streams.runtime import is_async

from .running import call, call_either
from .step import StepDefinition, as_step_config, caller_module
from .types import StepConfig

TriggerHandlers = dict[str, Callable[..., Any]]


def _arguments(kind: str, input: Any, ctx: Any) -> tuple[Any, ...]:
    return (ctx,) if kind == "cron" else (input, ctx)


def _chosen(handlers: Mapping[str, Callable[..., Any]], ctx: Any) -> Callable[..., Any]:
    kind = ctx.trigger.type
    if kind not in handlers:
        available = ", ".join(handlers)
        raise RuntimeError(
            f"No handler defined for trigger type: {kind}. Available handlers: {available}"
        )
    return handlers[kind]


def unified_handler(handlers: Mapping[str, Callable[..., Any]]) -> Callable[..., Any]:
    """One handler that calls the one of ``handlers`` named after the trigger type."""
    handlers = dict(handlers)
    if any(is_async(handler) for handler in handlers.values()):

        async def dispatch_async(input: Any, ctx: Any) -> Any:
            kind = ctx.trigger.type
            return await call_either(_chosen(handlers, ctx), *_arguments(kind, input, ctx))

        return dispatch_async

    def dispatch(input: Any, ctx: Any) -> Any:
        kind = ctx.trigger.type
        return call(_chosen(handlers, ctx), *_arguments(kind, input, ctx))

    return dispatch


class MultiTriggerStepBuilder:
    """Collects a handler per trigger type; :meth:`handlers` makes the step."""

    def __init__(self, config: StepConfig) -> None:
        self.config = config
        self._handlers: TriggerHandlers = {}

    def _on(self, kind: str, handler: Callable[..., Any]) -> "MultiTriggerStepBuilder":
        self._handlers[kind] = handler
        return self

    def on_queue(self, handler: Callable[..., Any]) -> "MultiTriggerStepBuilder":
        return self._on("queue", handler)

    def on_http(self, handler: Callable[..., Any]) -> "MultiTriggerStepBuilder":
        return self._on("http", handler)

    def on_cron(self, handler: Callable[..., Any]) -> "MultiTriggerStepBuilder":
        return self._on("cron", handler)

    def on_state(self, handler: Callable[..., Any]) -> "MultiTriggerStepBuilder":
        return self._on("state", handler)

    def on_stream(self, handler: Callable[..., Any]) -> "MultiTriggerStepBuilder":
        return self._on("stream", handler)

    def handlers(self, handlers: TriggerHandlers | None = None) -> StepDefinition:
        """The step, with ``handlers`` added to those given with ``on_*``."""
        self._handlers.update(handlers or {})
        return StepDefinition(self.config, unified_handler(self._handlers), caller_module())


def multi_trigger_step(config: StepConfig | dict[str, Any]) -> MultiTriggerStepBuilder:
    return MultiTriggerStepBuilder(as_step_config(config))
