"""Which steps a committed stream event runs: the stream triggers indexed by stream, the
index the registry keeps current, and the runs the receiver sends."""

from typing import Any

import pytest

from steps.definitions.inputs import StreamTriggerInput
from steps.definitions.step_registry import Step, StepRegistry
from steps.running import stream_triggers
from steps.running.stream_triggers import stream_triggers_by_stream, triggered_steps
from streams.publishing.events import StreamEvent
from tests.helpers.step_builder import build_step, step_registry


def event(stream: str = "jobs", group: str = "g", item: str | None = "a") -> StreamEvent:
    return StreamEvent("update", stream, group, item, {"id": item, "done": True}, 7, 3, "tr")


def watching(name: str, *triggers: dict[str, Any]) -> Step:
    return build_step(name=name, triggers=list(triggers))


def runs_of(registry: StepRegistry, change: StreamEvent) -> list[tuple[str, int]]:
    index = registry.derived(stream_triggers_by_stream)
    return [(step.name, index) for step, index, _ in triggered_steps(change, index)]


def test_triggers_of_a_stream_in_step_and_trigger_order() -> None:
    steps = step_registry(
        watching(
            "First", {"type": "queue", "topic": "t"}, {"type": "stream", "stream_name": "jobs"}
        ),
        watching("Other", {"type": "stream", "stream_name": "other"}),
        watching(
            "Second",
            {"type": "stream", "stream_name": "jobs", "group_id": "g"},
            {"type": "stream", "stream_name": "jobs", "item_id": "b"},
            {"type": "stream", "stream_name": "jobs", "item_id": "a"},
        ),
    )
    assert runs_of(steps, event()) == [("First", 1), ("Second", 0), ("Second", 2)]
    assert runs_of(steps, event(group="h", item="b")) == [("First", 1), ("Second", 1)]
    assert runs_of(steps, event("nobody")) == []


def test_conditions_share_the_input_of_the_event_and_filter_in_order() -> None:
    seen: list[StreamTriggerInput] = []

    def done(input: StreamTriggerInput) -> bool:
        seen.append(input)
        return bool(input.event.data["done"])

    def broken(input: StreamTriggerInput) -> bool:
        raise RuntimeError("a condition that fails")

    steps = step_registry(
        watching("Done", {"type": "stream", "stream_name": "jobs", "condition": done}),
        watching("Broken", {"type": "stream", "stream_name": "jobs", "condition": broken}),
        watching("Never", {"type": "stream", "stream_name": "jobs", "condition": lambda i: 0}),
        watching("Always", {"type": "stream", "stream_name": "jobs"}),
    )
    change = event()
    runs = triggered_steps(change, steps.derived(stream_triggers_by_stream))
    assert [(step.name, index) for step, index, _ in runs] == [("Done", 0), ("Always", 0)]
    assert seen == [StreamTriggerInput.from_event(change)]
    assert all(input is seen[0] for _, _, input in runs), "one input for the whole event"


def test_no_input_is_made_for_an_event_no_trigger_matches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(change: StreamEvent) -> StreamTriggerInput:
        raise AssertionError("an input was made")

    monkeypatch.setattr(StreamTriggerInput, "from_event", refuse)
    steps = step_registry(watching("Elsewhere", {"type": "stream", "stream_name": "other"}))
    steps.register(
        watching("OtherGroup", {"type": "stream", "stream_name": "jobs", "group_id": "h"})
    )
    assert runs_of(steps, event()) == []


def test_the_index_follows_every_change_of_the_registry() -> None:
    steps = step_registry(watching("Old", {"type": "stream", "stream_name": "jobs"}))
    assert runs_of(steps, event()) == [("Old", 0)]
    assert steps.derived(stream_triggers_by_stream) is steps.derived(stream_triggers_by_stream)

    steps.register(watching("New", {"type": "stream", "stream_name": "jobs"}))
    assert runs_of(steps, event()) == [("Old", 0), ("New", 0)]

    steps.unregister("Old")
    assert runs_of(steps, event()) == [("New", 0)]

    # The same step registered again with other triggers: the new ones count.
    steps.register(watching("New", {"type": "queue", "topic": "t"}))
    assert runs_of(steps, event()) == []


def test_a_value_built_while_the_steps_change_is_not_kept() -> None:
    """A step registered while an index is being built (by another thread, say) makes that
    index stale: the next call builds it again."""
    steps = step_registry(watching("Old", {"type": "stream", "stream_name": "jobs"}))
    built: list[list[str]] = []

    def names(listed: list[Step]) -> list[str]:
        built.append([step.name for step in listed])
        if len(built) == 1:
            steps.register(watching("Meanwhile", {"type": "stream", "stream_name": "jobs"}))
        return built[-1]

    assert steps.derived(names) == ["Old"]
    assert steps.derived(names) == ["Old", "Meanwhile"]
    assert steps.derived(names) == ["Old", "Meanwhile"]
    assert len(built) == 2


def test_an_index_is_kept_per_registry() -> None:
    one = step_registry(watching("One", {"type": "stream", "stream_name": "jobs"}))
    two = step_registry(watching("Two", {"type": "stream", "stream_name": "jobs"}))
    assert runs_of(one, event()) == [("One", 0)]
    assert runs_of(two, event()) == [("Two", 0)]


def test_the_receiver_sends_a_run_of_each_match(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, dict[str, Any], str, bool]] = []

    def send_to_step(name: str, payload: dict[str, Any], *, trace_id: str, batchable: bool) -> None:
        sent.append((name, payload, trace_id, batchable))

    steps = step_registry(watching("Later", {"type": "cron", "expression": "* * * * *"}))
    monkeypatch.setattr(stream_triggers, "registry", steps)
    monkeypatch.setattr(stream_triggers, "send_to_step", send_to_step)
    change = event()
    stream_triggers.dispatch_stream_triggers(StreamEvent, event=change)
    assert sent == []

    # Registered after the index was built (by the event above): it runs.
    steps.register(
        watching(
            "Watch", {"type": "queue", "topic": "t"}, {"type": "stream", "stream_name": "jobs"}
        )
    )
    stream_triggers.dispatch_stream_triggers(StreamEvent, event=change)
    payload = {
        "kind": "stream",
        "trigger": 1,
        "event": StreamTriggerInput.from_event(change).to_payload(),
    }
    assert sent == [("Watch", payload, "tr", True)]
    assert payload["event"] == {
        "stream_name": "jobs",
        "group_id": "g",
        "id": "a",
        "timestamp": 7,
        "event": {"type": "update", "data": {"id": "a", "done": True}},
    }

    steps.unregister("Watch")
    stream_triggers.dispatch_stream_triggers(StreamEvent, event=change)
    assert len(sent) == 1
