"""A Motia step file as the engine's steps: its config translated, its handler adapted.

The engine's registry asks :func:`motia_steps` for the steps of a module that uses ``motia``
(:func:`is_motia_module`). Each of the module's steps (``config`` and ``handler``, or a
``StepDefinition``) becomes a :class:`~steps.motia.definitions.MotiaStep`:

- its config in the engine's form: Motia's trigger objects as dicts; a state trigger as a
  queue trigger on :data:`~steps.motia.definitions.STATE_TOPIC`; conditions adapted to Motia's
  arguments; keys Motia ignores dropped, with a warning (:mod:`steps.motia.checks`), as is a
  FIFO queue type, which Celery does not keep;
- its handler adapted: called as it is written (``handler(input, ctx)``, ``handler(input)``,
  ``handler()``) with Motia's input and ctx, plain or async as it is (async when it has an
  http trigger, which may stream its answer: :mod:`steps.motia.http_runs`).

Everything else (validation, routes, queues, retries, runs) is the engine's.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import pydantic
from pydantic.alias_generators import to_snake

from streams.definitions import StreamConfig as EngineStreamConfig
from streams.definitions import registry as stream_registry
from streams.runtime import is_async

from ..definitions import StepConfig as EngineStepConfig
from ..definitions import StepConfigError
from .definitions import STATE_TOPIC, MotiaStep, Plan, TriggerKind
from .http_runs import run_http
from .inputs import condition_request, motia_input, trigger_index, trigger_info
from .running import Run, call, call_either, call_now, resolve, running
from .services import flow_context
from .step import StepDefinition
from .types import Enqueue, QueueConfig, StepConfig, TriggerInfo

PACKAGE = __name__.rsplit(".", 1)[0]

# The keys Motia reads, by the snake_case name of each.
STEP_KEYS = {
    "name",
    "description",
    "triggers",
    "enqueues",
    "virtual_enqueues",
    "virtual_subscribes",
    "flows",
    "include_files",
}
TRIGGER_KEYS: dict[str, set[str]] = {
    "http": {
        "method",
        "path",
        "body_schema",
        "response_schema",
        "query_params",
        "middleware",
        "condition",
        "description",
    },
    "queue": {"topic", "input", "config", "condition"},
    "cron": {"expression", "cron", "condition"},
    "state": {"condition"},
    "stream": {"stream_name", "group_id", "item_id", "condition"},
}
QUEUE_CONFIG_KEYS = {
    "type",
    "max_retries",
    "backoff_type",
    "backoff_delay_ms",
    "backoff_ms",
    "delay_seconds",
    "visibility_timeout",
    "concurrency",
}


def _is_ours(name: Any) -> bool:
    return isinstance(name, str) and (name == PACKAGE or name.startswith(PACKAGE + "."))


def _from_motia(value: Any) -> bool:
    """Whether ``value`` is Motia's module, or one of its classes, functions or objects."""
    if isinstance(value, ModuleType):
        return _is_ours(value.__name__)
    if isinstance(value, type) or inspect.isroutine(value):
        return _is_ours(getattr(value, "__module__", None))
    return _is_ours(type(value).__module__)


def is_motia_module(module: ModuleType) -> bool:
    """Whether a step module uses Motia's API: it imported ``motia`` or something from it."""
    if sys.modules.get(PACKAGE) is None:
        return False
    return any(_from_motia(value) for value in vars(module).values())


# --- the module's steps ----------------------------------------------------------------------


def definitions(module: ModuleType) -> list[tuple[Any, Callable[..., Any]]]:
    """The (config, handler) of each step the module defines."""
    config = getattr(module, "config", None)
    handler = getattr(module, "handler", None)
    found: list[tuple[Any, Callable[..., Any]]] = []
    if isinstance(config, StepDefinition):
        found.append((config.config, config.handler))
    elif config is not None and callable(handler):
        found.append((config, handler))
    for value in vars(module).values():
        made_here = isinstance(value, StepDefinition) and value.module == module.__name__
        if made_here and value is not config and value.handler is not handler:
            found.append((value.config, value.handler))
    return found


def motia_steps(module: ModuleType) -> tuple[list[MotiaStep], list[str]]:
    """The module's steps, and the warnings about what of them is ignored here."""
    found = definitions(module)
    if not found:
        raise StepConfigError(
            f"{module.__name__} must define 'config' and 'handler', or a step() definition"
        )
    steps, notes = [], []
    for raw, handler in found:
        translated, plan, step_notes = translate(raw)
        config = EngineStepConfig.parse(translated)
        notes += [f"step {config.name!r}: {note}" for note in step_notes]
        step = MotiaStep(
            config,
            adapt_handler(handler, plan),
            module.__name__,
            raw_body=True,
            check_responses=False,
            plan=plan,
        )
        steps.append(step)
    return steps, notes


# --- the config ------------------------------------------------------------------------------


def _fields(value: Any) -> dict[str, Any]:
    """A Motia config object, or dict, as a dict of snake_case keys (an object's fields that
    are set to something)."""
    if isinstance(value, pydantic.BaseModel):
        fields = {key: getattr(value, key) for key in type(value).model_fields}
        fields.update(value.model_extra or {})
        return {to_snake(key): item for key, item in fields.items() if item is not None}
    if isinstance(value, Mapping):
        return {to_snake(str(key)): item for key, item in value.items()}
    return {}


def _topics(values: Any) -> Any:
    if not isinstance(values, list | tuple):
        return values
    return [_fields(v) if isinstance(v, Enqueue) else v for v in values]


def translate(raw: Any) -> tuple[dict[str, Any], Plan, list[str]]:
    """A Motia step config as the engine's config (a dict its parser reads), the plan of its
    triggers, and notes on what is ignored."""
    if not isinstance(raw, StepConfig | Mapping):
        return raw, Plan(()), []  # the engine's parser names the problem
    fields = _fields(raw)
    notes = [
        f"'{key}' is not a key of Motia's step config: ignored (as Motia does)"
        for key in sorted(set(fields) - STEP_KEYS)
    ]
    config = {key: value for key, value in fields.items() if key in STEP_KEYS}
    for key in ("enqueues", "virtual_enqueues"):
        if key in config:
            config[key] = _topics(config[key])
    triggers = config.get("triggers")
    if not isinstance(triggers, list | tuple):
        return config, Plan(()), notes
    kinds: list[TriggerKind] = []
    middleware: dict[int, tuple[Callable[..., Any], ...]] = {}
    state_conditions: dict[int, Callable[..., Any] | None] = {}
    converted = []
    for index, trigger in enumerate(triggers):
        entry, kind, trigger_notes = _trigger(trigger, index)
        converted.append(entry)
        notes += [f"trigger {index}: {note}" for note in trigger_notes]
        kinds.append(kind)
        if kind == "http":
            middleware[index] = tuple(_fields(trigger).get("middleware") or ())
        elif kind == "state":
            state_conditions[index] = _fields(trigger).get("condition")
    config["triggers"] = converted
    return config, Plan(tuple(kinds), middleware, state_conditions), notes


def _trigger(trigger: Any, index: int) -> tuple[Any, TriggerKind, list[str]]:
    """One trigger in the engine's form, its kind, and notes."""
    fields = _fields(trigger)
    kind: TriggerKind
    match fields.get("type"):
        case "http" | "api":
            kind = "http"
        case "queue" | "cron" | "state" | "stream" as given:
            kind = given
        case _:
            return trigger, "queue", []  # the engine's parser names the problem
    notes = [
        f"'{key}' is not a key of Motia's {kind} trigger: ignored"
        for key in sorted(set(fields) - TRIGGER_KEYS[kind] - {"type"})
    ]
    entry = {key: value for key, value in fields.items() if key in TRIGGER_KEYS[kind]}
    entry["type"] = kind
    condition = entry.pop("condition", None)
    if kind == "http":
        entry.pop("middleware", None)  # run around the handler: steps.motia.http_runs
        if condition is not None:
            entry["condition"] = http_condition(condition, index)
    elif kind == "state":
        return {"type": "queue", "topic": STATE_TOPIC}, "state", notes
    elif condition is not None:
        entry["condition"] = plain_condition(condition, kind, index)
    if kind == "queue" and entry.get("config") is not None:
        entry["config"], config_notes = _queue_config(entry["config"])
        notes += config_notes
    if kind == "stream" and isinstance(entry.get("stream_name"), str) and entry["stream_name"]:
        # As in Motia, a stream is one as soon as it is named (see steps.motia.streams).
        stream_registry.provide(EngineStreamConfig(name=entry["stream_name"]))
    return entry, kind, notes


def _queue_config(value: Any) -> tuple[dict[str, Any], list[str]]:
    fields = _fields(value) if isinstance(value, QueueConfig | Mapping) else {}
    notes = [
        f"'config.{key}' is not a queue setting here: ignored"
        for key in sorted(set(fields) - QUEUE_CONFIG_KEYS)
    ]
    config = {k: v for k, v in fields.items() if k in QUEUE_CONFIG_KEYS and v is not None}
    if config.get("type") == "fifo":
        del config["type"]
        notes.append(
            "'config.type' is 'fifo': Celery does not keep a topic's messages in order, so "
            "they run as a standard queue's, in any order"
        )
    return config, notes


# --- conditions ------------------------------------------------------------------------------


def http_condition(condition: Callable[..., Any], index: int) -> Callable[..., Any]:
    """An http condition, ``condition(request, ctx)`` with Motia's ``ApiRequest`` and ctx, as
    the engine calls it (async: a plain one runs on a thread for plain code)."""

    async def check(request: Any, ctx: Any = None) -> bool:
        motia_ctx = flow_context(ctx, TriggerInfo(type="http", index=index), None)
        api_request = condition_request(request)
        motia_ctx.input_value = api_request
        with running(Run(ctx, motia_ctx), "async"):
            return bool(await call_either(condition, api_request, motia_ctx))

    return check


def plain_condition(condition: Callable[..., Any], kind: str, index: int) -> Callable[..., Any]:
    """A queue, cron or stream condition, ``condition(input, ctx)`` with Motia's input and
    ctx, as the engine calls it (plain: an async one is run to its end)."""

    def check(input: Any, ctx: Any = None) -> bool:
        adapted = motia_input(kind, input)  # type: ignore[arg-type]  # kind is a TriggerKind
        info = TriggerInfo(type=kind, index=index)  # type: ignore[arg-type]
        motia_ctx = flow_context(ctx, info, adapted)
        with running(Run(ctx, motia_ctx), "sync"):
            return bool(call_now(condition, adapted, motia_ctx))

    return check


# --- the handler -----------------------------------------------------------------------------


def adapt_handler(handler: Callable[..., Any], plan: Plan) -> Callable[..., Any]:
    """The Motia ``handler`` as the engine calls it: ``(input, ctx)``, plain or async."""
    if is_async(handler) or "http" in plan.kinds:

        async def run_async(input: Any, ctx: Any) -> Any:
            index = trigger_index(ctx)
            kind = plan.kinds[index]
            if kind == "http":
                middleware = plan.middleware.get(index, ())
                return await run_http(handler, middleware, input, ctx, index)
            run = _run(kind, index, input, ctx)
            return await run.complete(
                call_either(handler, run.motia_ctx.input_value, run.motia_ctx)
            )

        adapted: Callable[..., Any] = run_async
    else:

        def run_plain(input: Any, ctx: Any) -> Any:
            index = trigger_index(ctx)
            run = _run(plan.kinds[index], index, input, ctx)
            with running(run, "sync"):
                return resolve(call(handler, run.motia_ctx.input_value, run.motia_ctx))

        adapted = run_plain
    adapted.__name__ = getattr(handler, "__name__", "handler")
    adapted.__qualname__ = getattr(handler, "__qualname__", adapted.__name__)
    adapted.__module__ = getattr(handler, "__module__", __name__)
    return adapted


def _run(kind: TriggerKind, index: int, input: Any, ctx: Any) -> Run:
    adapted = motia_input(kind, input)
    return Run(ctx, flow_context(ctx, trigger_info(ctx.trigger, index), adapted))
