"""The Motia layer in this process: the import hook, Motia's names, a Motia file's config as
the engine reads it, the records handlers get, Motia's update paths, and how Motia code runs
(plain calls in plain code, awaitables that start at once in async code)."""

import asyncio
import importlib
import logging
import sys
import types
import warnings
from typing import Any

import pytest
from pydantic import BaseModel

import steps.motia
from steps.definitions.config import QueueTrigger, StepConfigError, StreamTrigger
from steps.motia.adapter import is_motia_module, motia_steps, translate
from steps.motia.definitions import STATE_TOPIC, MotiaStep
from steps.motia.ops import engine_ops
from steps.motia.running import Run, Started, call, call_now, running
from steps.motia.unavailable import NotAvailableHere
from streams.definitions.config import StreamConfig as EngineStreamConfig
from streams.definitions.stream_registry import StreamRegistry, registry
from streams.runtime import db
from streams.storage.store import SyncStream


def motia_module(name: str, source: str, **names: Any) -> types.ModuleType:
    """A module made of ``source`` (with ``names`` defined), as a step file would be."""
    module = types.ModuleType(name)
    module.__dict__.update(names)
    exec(compile(source, f"{name}.py", "exec"), module.__dict__)
    return module


# --- import motia ----------------------------------------------------------------------------


def test_import_motia_gives_this_engines_api_never_a_copy() -> None:
    import motia
    import motia.streams
    import motia.types
    import motia.types_stream

    assert motia is steps.motia
    assert motia.types is sys.modules["steps.motia.types"]
    assert motia.FlowContext is motia.types.FlowContext
    assert motia.Stream is motia.streams.Stream
    assert motia.types_stream.StreamConfig is motia.StreamConfig
    # As Motia's package has them: the trigger helper, not the module of the same name.
    assert callable(motia.state) and motia.state.__name__ == "state"
    assert type(motia.logger).__name__ == "Logger"
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("motia.no_such_module")


def test_the_finder_comes_last_and_finds_no_installed_motia() -> None:
    from steps.motia.importing import MotiaFinder, installed_motia

    assert isinstance(sys.meta_path[-1], MotiaFinder)
    assert installed_motia() is None


def test_every_name_motia_exports_is_there() -> None:
    import motia

    namespace: dict[str, Any] = {}
    exec("from motia import *", namespace)
    for name in ("http", "api", "queue", "cron", "state", "stream", "step", "Stream"):
        assert name in namespace
    assert set(motia.__all__) <= set(namespace)


def test_the_iii_apis_say_why_they_cannot_run_here() -> None:
    import motia
    from motia import bridge, cli

    with pytest.raises(NotAvailableHere, match="iii engine"):
        motia.get_instance()
    with pytest.raises(NotAvailableHere, match="STREAMS_AUTHENTICATE"):
        motia.Motia()
    with pytest.raises(NotAvailableHere):
        _ = bridge.bridge
    with pytest.raises(SystemExit):
        cli.main()
    # Pure ones work.
    assert motia.schema_to_json_schema({"type": "object"}) == {"type": "object"}
    assert motia.generate_step_id("steps/a_step.py") == motia.generate_step_id("steps/a_step.py")
    with motia.tracing.step_span("s", "http") as span:
        assert span is None


def test_api_is_http_and_warns_that_it_is_deprecated() -> None:
    import motia

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trigger = motia.api("GET", "/old")
    assert trigger.type == "http" and trigger.path == "/old"
    assert caught and issubclass(caught[0].category, DeprecationWarning)


# --- a Motia file's config, as the engine reads it -------------------------------------------


def test_a_state_trigger_is_a_queue_trigger_on_the_state_topic() -> None:
    from motia import http, state

    def wanted(input: Any, ctx: Any) -> bool:
        return True

    def guard(request: Any, ctx: Any, next_fn: Any) -> Any:
        return next_fn()

    config, plan, notes = translate(
        {
            "name": "S",
            "triggers": [state(condition=wanted), http("GET", "/s", middleware=[guard])],
            "emits": ["old.name"],
        }
    )
    assert config["triggers"][0] == {"type": "queue", "topic": STATE_TOPIC}
    assert "middleware" not in config["triggers"][1]
    assert plan.kinds == ("state", "http")
    assert plan.state_conditions == {0: wanted} and plan.middleware == {1: (guard,)}
    assert notes == ["'emits' is not a key of Motia's step config: ignored (as Motia does)"]


def test_queue_settings_that_cannot_apply_are_said_and_dropped() -> None:
    from motia import queue
    from motia.types import QueueConfig

    config, _, notes = translate(
        {
            "name": "Q",
            "triggers": [
                queue("a", config=QueueConfig(type="fifo", max_retries=5)),
                {
                    "type": "queue",
                    "topic": "b",
                    "config": {"maxRetries": 2, "messageGroupField": "x"},
                },
            ],
        }
    )
    assert config["triggers"][0]["config"] == {"max_retries": 5}
    assert config["triggers"][1]["config"] == {"max_retries": 2}
    assert any("'fifo'" in note for note in notes)
    assert any("'config.message_group_field'" in note for note in notes)


def test_a_motia_module_gives_engine_steps_and_errors_name_the_key() -> None:
    module = motia_module(
        "app.orders_step",
        "from motia import queue, stream, step\n"
        "def condition(input, ctx):\n    return True\n"
        "config = {'name': 'Orders', 'triggers': [queue('o', input={'type': 'object'}),"
        " stream('todo', condition=condition)]}\n"
        "def handler(input, ctx):\n    pass\n"
        "other = step({'name': 'Other', 'triggers': [queue('x')]}, lambda input: None)\n",
    )
    assert is_motia_module(module)
    found, notes = motia_steps(module)
    assert [step.name for step in found] == ["Orders", "Other"] and notes == []
    orders = found[0]
    assert isinstance(orders, MotiaStep) and orders.raw_body and not orders.check_responses
    assert isinstance(orders.config.triggers[0], QueueTrigger)
    assert isinstance(orders.config.triggers[1], StreamTrigger)
    broken = motia_module(
        "app.broken_step",
        "from motia import http\nconfig = {'name': 'B', 'triggers': [http('GET', 'nope')]}\n"
        "def handler(request):\n    pass\n",
    )
    with pytest.raises(StepConfigError, match="step 'B' trigger 0: 'path' must start with '/'"):
        motia_steps(broken)


def test_a_step_imported_from_another_module_is_not_taken_twice() -> None:
    made = motia_module(
        "app.made_step",
        "from motia import queue, step\n"
        "made = step({'name': 'Made', 'triggers': [queue('m')]}, lambda input: None)\n",
    )
    importer = motia_module("app.importer_step", "from motia import logger\n")
    importer.made = made.made  # type: ignore[attr-defined]
    with pytest.raises(StepConfigError, match="must define 'config' and 'handler'"):
        motia_steps(importer)


def test_a_module_without_motia_is_the_engines() -> None:
    plain = motia_module("app.plain_step", "config = {}\ndef handler(input, ctx):\n    pass\n")
    assert not is_motia_module(plain)


# --- what handlers get -----------------------------------------------------------------------


def test_trigger_inputs_read_as_dicts_and_as_objects() -> None:
    from motia import StateTriggerInput, StreamTriggerInput

    change = StreamTriggerInput(
        timestamp=1, streamName="todo", groupId="inbox", id="t1", event={"type": "create"}
    )
    assert change.event.type == "create" and change["event"]["type"] == "create"
    assert change.group_id == change["groupId"] == change.get("group_id") == "inbox"
    assert change.type == "stream" and isinstance(change, dict)
    state = StateTriggerInput(group_id="users", item_id="u1", new_value={"a": 1})
    assert (state.group_id, state["scope"], state.key) == ("users", "users", "u1")
    assert state.old_value is None and state.new_value == {"a": 1}
    assert state.model_dump(by_alias=True, exclude_none=True) == {
        "type": "state",
        "groupId": "users",
        "itemId": "u1",
        "newValue": {"a": 1},
    }


def test_http_args_read_as_the_request_too() -> None:
    from motia import MotiaHttpArgs, MotiaHttpRequest, MotiaHttpResponse

    args = MotiaHttpArgs(
        MotiaHttpRequest(path_params={"id": "1"}, body={"a": 1}, method="POST"),
        MotiaHttpResponse(None),
    )
    assert args.path_params == {"id": "1"} and args.body == {"a": 1}
    assert args.get("method") == "POST" and args.get("nothing", 7) == 7
    assert args.get("request") is args.request


def test_flow_context_matches_the_trigger_type() -> None:
    from motia import FlowContext, TriggerInfo

    ctx = FlowContext(trace_id="t", trigger=TriggerInfo(type="cron"), input_value=None)
    assert ctx.is_cron() and ctx.get_data() is None
    assert ctx.match({"cron": lambda: "ticked", "http": lambda request: "no"}) == "ticked"
    queued = FlowContext(trigger={"type": "queue", "topic": "t"}, input_value={"n": 1})
    assert queued.match({"default": lambda data: data}) == {"n": 1}
    with pytest.raises(RuntimeError, match="No handler matched for trigger type: queue"):
        queued.match({"http": lambda request: None})


async def test_in_async_code_match_is_awaited() -> None:
    from motia import FlowContext, TriggerInfo

    ctx = FlowContext(trigger=TriggerInfo(type="http"), input_value="req")

    async def on_http(request: str) -> str:
        return f"async {request}"

    assert await ctx.match({"http": on_http}) == "async req"


def test_handlers_are_called_as_they_are_written() -> None:
    assert call(lambda: "none", "input", "ctx") == "none"
    assert call(lambda input: input, "input", "ctx") == "input"
    assert call(lambda input, ctx: (input, ctx), "input", "ctx") == ("input", "ctx")
    assert call(lambda *args: args, "input", "ctx") == ("input", "ctx")


def test_motias_update_paths_are_literal_keys_and_lists() -> None:
    ops = [
        {"type": "increment", "path": "stats.views"},
        {"type": "set", "path": ["a", "b.c"], "value": 1},
        {"type": "merge", "value": {"x": 1}},
    ]
    assert engine_ops(ops) == [
        {"type": "increment", "path": ["stats.views"]},
        {"type": "set", "path": ["a", "b.c"], "value": 1},
        {"type": "merge", "value": {"x": 1}},
    ]
    assert engine_ops(ops, ("value",))[2] == {"type": "merge", "value": {"x": 1}, "path": ["value"]}
    assert engine_ops("not ops") == "not ops"


# --- streams and state -----------------------------------------------------------------------


def test_a_stream_used_by_name_is_replaced_by_its_definition() -> None:
    streams = StreamRegistry()
    used = streams.provide(EngineStreamConfig(name="chat"))
    assert streams.get("chat") is used and streams.provide({"name": "chat"}) is used
    defined = streams.register(EngineStreamConfig(name="chat", schema={"type": "object"}))
    assert streams.get("chat") is defined is not used
    assert streams.provide(EngineStreamConfig(name="chat")) is defined


def test_motias_stream_config_is_taken_by_the_registry() -> None:
    from motia import StreamConfig

    config = StreamConfig(name="motia-config", baseConfig={"storageType": "default"})
    engine = StreamRegistry().register(config)
    assert engine is config.as_stream_config() and engine.name == "motia-config"
    assert engine.base_config == {"storage_type": "default"}


@pytest.mark.django_db(transaction=True)
def test_state_keeps_any_json_value_and_motias_ops() -> None:
    from motia import stateManager

    with running(None, "sync"):
        assert stateManager.set("kinds", "n", 3) == {"old_value": None, "new_value": 3}
        assert stateManager.get("kinds", "n") == 3
        stateManager.set("kinds", "l", [1, "two"])
        assert stateManager.list("kinds") == [3, [1, "two"]]
        result = stateManager.update("kinds", "d", [{"type": "increment", "path": "a.b"}])
        assert result == {"old_value": None, "new_value": {"a.b": 1}}
        assert stateManager.delete("kinds", "n") == 3
        assert stateManager.get("kinds", "n") is None
        assert "kinds" in stateManager.list_groups()
        stateManager.clear("kinds")
        assert stateManager.list("kinds") == []


@pytest.mark.django_db(transaction=True)
async def test_async_writes_start_at_once_and_the_run_waits_for_unawaited_ones(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from motia import Stream

    board = Stream("async-board")
    try:

        async def handler() -> Any:
            board.set("g", "forgotten", {"text": "not awaited"})
            return await board.get("g", "missing")

        with caplog.at_level(logging.WARNING, logger="steps.motia"):
            assert await Run(None).complete(handler()) is None
        assert "was not awaited in an async handler" in caplog.text
        stored = await db.run(SyncStream(registry.get("async-board")).get, "g", "forgotten")
        assert stored == {"id": "forgotten", "text": "not awaited"}
        with running(None, "async"):
            read = board.get("g", "forgotten")
            assert isinstance(read, Started)
            with pytest.raises(TypeError, match=r"write `await Stream\('async-board'\).get"):
                read["text"]
            assert (await read)["text"] == "not awaited"
    finally:
        registry.unregister("async-board")


@pytest.mark.django_db(transaction=True)
def test_an_async_handler_called_from_plain_code_runs_to_its_end() -> None:
    from motia import stateManager

    async def write() -> str:
        await stateManager.set("plain", "k", "v")
        return "done"

    with running(None, "sync"):
        assert call_now(write) == "done"
        assert stateManager.get("plain", "k") == "v"


def test_a_queue_input_model_is_kept() -> None:
    class Order(BaseModel):
        id: str

    module = motia_module(
        "app.model_step",
        "from motia import queue\n"
        "config = {'name': 'M', 'triggers': [queue('m', input=Order)]}\n"
        "def handler(input):\n    pass\n",
        Order=Order,
    )
    (found,), _ = motia_steps(module)
    trigger = found.config.triggers[0]
    assert isinstance(trigger, QueueTrigger) and trigger.input is Order


def test_running_modes_follow_the_event_loop() -> None:
    from steps.motia.running import in_async_mode

    assert not in_async_mode()

    async def inside() -> bool:
        return in_async_mode()

    assert asyncio.run(inside())


def test_a_name_motia_1_0_does_not_have_is_explained_not_raised() -> None:
    from steps.motia.importing import explain_import_failure

    for source in ("from motia import event", "import motia.emits"):
        with pytest.raises(ImportError) as raised:
            exec(source, {})
        message = explain_import_failure("app.old_step", raised.value)
        assert message is not None and "Motia 1.0's Python API has no such name" in message
    assert explain_import_failure("app.other_step", ImportError("x", name="yaml")) is None
    assert explain_import_failure("app.other_step", NameError("x")) is None


def test_motias_validators_and_guards() -> None:
    from motia import get_queue_triggers, is_api_step, is_state_trigger, queue, state
    from motia.types import Step
    from motia.validator import (
        check_schema_compatibility,
        validate_schema,
        validate_step,
        validate_step_config,
    )

    assert validate_schema({"type": "object"}) == []
    assert validate_schema({"properties": {}}) == [
        "Schema should have a 'type', '$ref', 'anyOf', or 'oneOf' property"
    ]
    assert validate_schema([]) == ["Schema must be a dictionary"]
    assert validate_step_config({"name": "", "triggers": []}) == [
        "Step name cannot be empty",
        "Step must have at least one trigger",
    ]
    assert validate_step({"name": "S", "triggers": [queue("t")]}) == []
    assert validate_step({"triggers": []}) != []
    first = {"type": "object", "properties": {"a": {}}, "required": ["a", "b"]}
    second = {"type": "object", "properties": {"a": {}}}
    assert check_schema_compatibility(first, second) == [
        "Required fields missing in second schema: ['b']"
    ]
    assert check_schema_compatibility({"type": "object"}, {"type": "array"}) == [
        "Type mismatch: object vs array"
    ]
    step = Step(file_path="a_step.py", config={"name": "S", "triggers": [queue("t"), state()]})
    assert not is_api_step(step) and len(get_queue_triggers(step)) == 1
    assert is_state_trigger({"type": "state"})


def test_a_stream_a_motia_trigger_names_is_a_stream() -> None:
    from steps.checks import unknown_streams

    module = motia_module(
        "app.watch_step",
        "from motia import stream\n"
        "config = {'name': 'Watch', 'triggers': [stream('named-only-here')]}\n"
        "def handler(input):\n    pass\n",
    )
    try:
        found, _ = motia_steps(module)
        assert "named-only-here" in registry
        assert unknown_streams(found, registry.names()) == []
    finally:
        registry.unregister("named-only-here")


def test_only_staff_may_watch_the_state() -> None:
    from steps.motia.state import STATE_STREAM

    on_join = registry.get(STATE_STREAM).on_join
    assert on_join is not None
    staff = types.SimpleNamespace(is_active=True, is_staff=True)
    visitor = types.SimpleNamespace(is_active=True, is_staff=False)
    assert on_join(None, types.SimpleNamespace(user=staff)) == {"unauthorized": False}
    assert on_join(None, types.SimpleNamespace(user=visitor)) == {"unauthorized": True}
    assert on_join(None, types.SimpleNamespace(user=None)) == {"unauthorized": True}
