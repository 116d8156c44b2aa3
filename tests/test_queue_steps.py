"""Queue and stream triggers run by a real Celery worker (in this process, on the configured
broker: the in-process one, or Redis in the services pass), with retries and dead letters."""

import json
import threading
import time
from collections.abc import Callable
from io import StringIO
from itertools import pairwise
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from celery import current_app
from celery.beat import Scheduler
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from django.test import AsyncClient
from pydantic import BaseModel

from motia_site.asgi import application
from steps.definitions.config import QueueTrigger
from steps.definitions.inputs import (
    CronInput,
    InvalidInput,
    StreamTriggerInput,
    validate_queue_input,
)
from steps.definitions.retry import RetryPolicy
from steps.definitions.step_registry import Step
from steps.models import DeadLetter, StepRun
from steps.records.redriving import redrive
from steps.records.runs import flush_runs
from steps.running.cron import beat_schedule
from steps.running.queue import EnqueueError, enqueue
from steps.running.sending import OutgoingRun, send_runs
from streams import StreamConfig
from streams.definitions.stream_registry import registry as registry_streams
from streams.publishing.events import StreamEvent
from streams.storage.store import SyncStream
from tests.helpers.step_builder import build_step
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("worker")]

DefineStep = Callable[..., Step]  # the define_step fixture (tests/conftest.py)
WAIT = 15.0  # seconds for the worker to have run what a test waits for


def wait_for(check: Callable[[], Any], what: str) -> Any:
    return eventually(check, what, WAIT, interval=0.05)


def runs(step: str) -> list[StepRun]:
    return list(StepRun.objects.filter(step_name=step).order_by("id"))


def dead_letter(step: str, topic: str, data: Any, error: str) -> DeadLetter:
    """A dead letter as the worker stores it after a queue message's last failed attempt."""
    return DeadLetter.objects.create(
        step_name=step,
        kind="queue",
        topic=topic,
        payload={"kind": "queue", "trigger": 0, "topic": topic, "data": data},
        trace_id="tr",
        attempts=4,
        error=error,
        traceback="Traceback ...",
    )


class Counter:
    """Counts handler calls across worker threads."""

    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.lock = threading.Lock()

    def add(self, value: Any) -> int:
        with self.lock:
            self.calls.append(value)
            return len(self.calls)


# --- pure parts -----------------------------------------------------------------------------


def test_retry_policy_backoff() -> None:
    policy = RetryPolicy()
    assert (policy.max_retries, [policy.delay_after(n) for n in range(3)]) == (3, [1, 2, 4])
    assert RetryPolicy(backoff_ms=100).delay_after(2) == 0.4


def test_enqueue_errors_are_clear(define_step: DefineStep) -> None:
    sender = define_step(
        lambda i, c: None,
        name="Sender",
        triggers=[{"type": "queue", "topic": "t.in"}],
        enqueues=["t.declared"],
    )
    define_step(
        lambda i, c: None, name="Receiver", triggers=[{"type": "queue", "topic": "t.other"}]
    )
    with pytest.raises(EnqueueError, match=r"no step subscribes to topic 't\.nobody'"):
        enqueue({"topic": "t.nobody", "data": {}}, trace_id="t")
    with pytest.raises(EnqueueError, match="does not declare it in 'enqueues'"):
        enqueue({"topic": "t.other", "data": {}}, trace_id="t", sender=sender)
    with pytest.raises(EnqueueError, match="not JSON"):
        enqueue({"topic": "t.other", "data": {"when": object()}}, trace_id="t")
    with pytest.raises(EnqueueError, match="'topic'"):
        enqueue({"data": 1}, trace_id="t")
    time.sleep(0.2)
    assert not StepRun.objects.filter(step_name__in=["Sender", "Receiver"]).exists()


# --- queue triggers through the worker ------------------------------------------------------


def test_every_subscribing_step_gets_its_own_copy(define_step: DefineStep) -> None:
    seen = Counter()
    for name in ("CopyA", "CopyB"):
        define_step(
            lambda input, ctx, name=name: seen.add((name, input["n"], ctx.trace_id)),
            name=name,
            triggers=[{"type": "queue", "topic": "t.copies"}],
        )
    assert enqueue({"topic": "t.copies", "data": {"n": 7}}, trace_id="trace-7") == 2
    wait_for(lambda: len(seen.calls) == 2, "both copies")
    assert sorted(seen.calls) == [("CopyA", 7, "trace-7"), ("CopyB", 7, "trace-7")]


def test_a_handler_failing_twice_is_retried_with_backoff(define_step: DefineStep) -> None:
    calls = Counter()

    async def flaky(input: Any, ctx: Any) -> None:
        if calls.add(input) <= 2:
            raise RuntimeError("not yet")

    define_step(
        flaky,
        name="Flaky",
        triggers=[{"type": "queue", "topic": "t.flaky", "config": {"backoff_ms": 200}}],
    )
    enqueue({"topic": "t.flaky", "data": {"x": 1}}, trace_id="tr")
    wait_for(lambda: any(r.status == "succeeded" for r in runs("Flaky")), "success")
    attempts = runs("Flaky")
    assert [(r.attempt, r.status) for r in attempts] == [
        (0, "retrying"),
        (1, "retrying"),
        (2, "succeeded"),
    ]
    assert "not yet" in attempts[0].error
    gaps = [
        (b.started_at - a.finished_at).total_seconds()
        for a, b in pairwise(attempts)
        if a.finished_at is not None
    ]
    assert gaps[0] >= 0.18 and gaps[1] >= 0.38, gaps
    assert DeadLetter.objects.count() == 0


def test_an_always_failing_handler_ends_as_one_dead_letter_and_can_be_redriven(
    define_step: DefineStep,
) -> None:
    healthy = threading.Event()

    def broken(input: Any, ctx: Any) -> None:
        if not healthy.is_set():
            raise ValueError(f"cannot handle {input['job']}")

    config = {"max_retries": 2, "backoff_ms": 50}
    define_step(
        broken, name="Broken", triggers=[{"type": "queue", "topic": "t.broken", "config": config}]
    )
    enqueue({"topic": "t.broken", "data": {"job": "j1"}}, trace_id="trace-b")
    letter = wait_for(lambda: DeadLetter.objects.first(), "a dead letter")
    time.sleep(0.5)
    assert DeadLetter.objects.count() == 1
    assert [r.status for r in runs("Broken")] == ["retrying", "retrying", "failed"]
    assert letter.step_name == "Broken"
    assert letter.topic == "t.broken"
    assert letter.attempts == 3
    assert letter.error == "ValueError: cannot handle j1"
    assert "in broken" in letter.traceback
    assert letter.payload["data"] == {"job": "j1"}
    assert letter.trace_id == "trace-b"

    healthy.set()
    assert redrive([letter]) == 1
    wait_for(lambda: runs("Broken")[-1].status == "succeeded", "the re-driven run")
    letter.refresh_from_db()
    assert letter.redriven_at is not None
    assert DeadLetter.objects.count() == 1


def test_nul_from_a_client_never_blocks_the_recording_of_runs_and_dead_letters(
    define_step: DefineStep,
) -> None:
    """PostgreSQL refuses NUL in text and jsonb: a message, a log line and an error carrying
    one are still recorded (NUL as U+FFFD), and so are the runs after them."""

    def fails(input: Any, ctx: Any) -> None:
        ctx.logger.info("got \x00", {"text": input["text"]})
        raise ValueError(f"cannot handle {input['text']}")

    config = {"max_retries": 0}
    define_step(fails, name="Nul", triggers=[{"type": "queue", "topic": "t.nul", "config": config}])
    enqueue({"topic": "t.nul", "data": {"text": "a\x00b"}}, trace_id="trace-nul")
    letter = wait_for(lambda: DeadLetter.objects.first(), "a dead letter")
    assert letter.payload["data"] == {"text": "a\ufffdb"}
    assert letter.error == "ValueError: cannot handle a\ufffdb"
    flush_runs()
    (run,) = wait_for(lambda: runs("Nul"), "the run")
    assert run.status == "failed"
    assert run.error == "ValueError: cannot handle a\ufffdb"
    assert [(r["msg"], r["fields"]) for r in run.logs] == [("got \ufffd", {"text": "a\ufffdb"})]

    enqueue({"topic": "t.nul", "data": {"text": "plain"}}, trace_id="trace-after")
    wait_for(lambda: DeadLetter.objects.count() == 2, "the second dead letter")
    flush_runs()
    assert len(wait_for(lambda: len(runs("Nul")) == 2 and runs("Nul"), "both runs")) == 2


def test_redrive_command(define_step: DefineStep) -> None:
    done = Counter()
    define_step(
        lambda input, ctx: done.add(input),
        name="Later",
        triggers=[{"type": "queue", "topic": "t.later"}],
    )
    letter = dead_letter("Later", "t.later", {"n": 1}, error="boom")
    out = StringIO()
    call_command("redrive", "--all", stdout=out)
    assert "re-drove 1" in out.getvalue()
    wait_for(lambda: done.calls == [{"n": 1}], "the re-driven message")
    letter.refresh_from_db()
    assert letter.redriven_at is not None
    call_command("redrive", "--all", stdout=(out := StringIO()))
    assert "re-drove 0" in out.getvalue(), "a re-driven letter is not sent twice by --all"


class Job(BaseModel):
    n: int


JOB_SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer"}, "tags": {"type": "array"}},
    "required": ["n"],
}


@pytest.mark.parametrize(
    ("schema", "valid"), [(Job, Job(n=3)), (JOB_SCHEMA, {"n": 3})], ids=["model", "json-schema"]
)
def test_an_invalid_message_goes_straight_to_the_dead_letters(
    define_step: DefineStep, schema: Any, valid: Any
) -> None:
    called = Counter()
    define_step(
        lambda input, ctx: called.add(input),
        name="Typed",
        triggers=[{"type": "queue", "topic": "t.typed", "input": schema}],
    )
    enqueue({"topic": "t.typed", "data": {"n": "many"}}, trace_id="tr")
    enqueue({"topic": "t.typed", "data": {"n": 3}}, trace_id="tr")
    letter = wait_for(lambda: DeadLetter.objects.first(), "a dead letter")
    wait_for(lambda: len(called.calls) == 1, "the valid message")
    assert called.calls == [valid], "the handler gets the validated model, or the JSON itself"
    assert letter.attempts == 1
    assert "InvalidInput" in letter.error and "n:" in letter.error
    assert [r.status for r in runs("Typed")].count("retrying") == 0


def test_a_json_schema_input_names_each_failing_field() -> None:
    queue = {"type": "queue", "topic": "t", "input": JOB_SCHEMA}
    (trigger,) = build_step(name="Q", triggers=[queue]).config.triggers
    assert isinstance(trigger, QueueTrigger)
    with pytest.raises(InvalidInput) as refused:
        validate_queue_input(trigger, {"tags": 3})
    assert refused.value.errors == [
        {"loc": ["n"], "msg": "'n' is a required property", "type": "missing"},
        {"loc": ["tags"], "msg": "3 is not of type 'array'", "type": "type"},
    ]
    assert str(refused.value) == (
        "invalid message for topic 't': n: 'n' is a required property; "
        "tags: 3 is not of type 'array'"
    )


def test_a_false_queue_condition_skips_the_handler(define_step: DefineStep) -> None:
    called = Counter()
    define_step(
        lambda input, ctx: called.add(input.n),
        name="Positive",
        triggers=[
            {"type": "queue", "topic": "t.cond", "input": Job, "condition": lambda i, ctx: i.n > 0}
        ],
    )
    enqueue({"topic": "t.cond", "data": {"n": 0}}, trace_id="tr")
    enqueue({"topic": "t.cond", "data": {"n": 5}}, trace_id="tr")
    wait_for(
        lambda: len(runs("Positive")) == 2 and all(r.finished_at for r in runs("Positive")),
        "both runs finished",
    )
    assert called.calls == [5]
    assert sorted(r.status for r in runs("Positive")) == ["skipped", "succeeded"]


# --- stream triggers ------------------------------------------------------------------------


def test_stream_triggers_run_on_matching_committed_changes(
    define_step: DefineStep, define_stream: Callable[..., StreamConfig]
) -> None:
    jobs = SyncStream(define_stream("jobs"))
    seen = Counter()

    def finished(input: StreamTriggerInput) -> bool:
        return input.event.type == "update" and input.event.data.get("done") is True

    define_step(
        lambda input, ctx: seen.add((input.event.type, input.id, input.group_id)),
        name="OnJobDone",
        triggers=[{"type": "stream", "streamName": "jobs", "groupId": "g", "condition": finished}],
    )
    every = Counter()
    define_step(
        lambda input, ctx: every.add(input.event.type),
        name="OnAnyJob",
        triggers=[{"type": "stream", "stream_name": "jobs", "item_id": "a"}],
    )
    jobs.set("g", "a", {"done": False})
    jobs.update("g", "a", [{"type": "set", "path": "done", "value": True}])
    jobs.set("other", "a", {"done": True})
    jobs.update("other", "a", [{"type": "set", "path": "done", "value": True}])
    jobs.send({"groupId": "g", "id": "a"}, {"type": "ping"})
    jobs.delete("g", "a")
    wait_for(lambda: len(every.calls) == 6, "all six changes of item a")
    wait_for(lambda: seen.calls, "the done job")
    time.sleep(0.3)
    assert seen.calls == [("update", "a", "g")]
    assert sorted(every.calls) == sorted(
        ["create", "update", "create", "update", "event", "delete"]
    )


def test_stream_triggered_runs_sent_together_share_one_message(
    define_step: DefineStep, define_stream: Callable[..., StreamConfig]
) -> None:
    """Under load the sender batches stream-triggered runs of a step: they run concurrently in
    one message, each recorded on its own; one that fails carries on as a message of its own."""
    define_stream("jobs")
    failed: set[str] = set()

    async def handle(input: StreamTriggerInput, ctx: Any) -> None:
        if input.id == "bad" and not failed:
            failed.add(input.id)
            raise RuntimeError("bad on the first try")
        await ctx.streams.jobs.set("handled", input.id, {"by": ctx.trace_id})

    trigger = {"type": "stream", "stream_name": "jobs", "group_id": "g"}
    define_step(handle, name="Batched", triggers=[trigger])
    ids = ["a", "b", "bad", "c"]
    send_runs(
        [
            OutgoingRun(
                "Batched",
                {"kind": "stream", "trigger": 0, "event": change_payload(item_id)},
                f"trace-{item_id}",
                batchable=True,
            )
            for item_id in ids
        ]
    )
    jobs = SyncStream(registry_streams.get("jobs"))
    wait_for(lambda: len(jobs.list("handled")) == 4, "every change handled")
    assert sorted((item["id"], item["by"]) for item in jobs.list("handled")) == [
        (item_id, f"trace-{item_id}") for item_id in sorted(ids)
    ]
    flush_runs()
    first = [r for r in runs("Batched") if r.attempt == 0]
    assert len({r.task_id for r in first}) == 1, "the four runs came in one message"
    assert sorted((r.trace_id, r.status) for r in first) == [
        ("trace-a", "succeeded"),
        ("trace-b", "succeeded"),
        ("trace-bad", "retrying"),
        ("trace-c", "succeeded"),
    ]

    def retried_and_recorded() -> list[StepRun]:
        flush_runs()  # the handler's change may be seen before its run is over
        return [r for r in runs("Batched") if r.attempt == 1 and r.status != "running"]

    (retried,) = wait_for(retried_and_recorded, "the retried run, recorded")
    assert (retried.trace_id, retried.status) == ("trace-bad", "succeeded")
    assert retried.task_id != first[0].task_id
    assert DeadLetter.objects.count() == 0


def change_payload(item_id: str) -> dict[str, Any]:
    event = StreamEvent("create", "jobs", "g", item_id, {"id": item_id}, 1, 1)
    return StreamTriggerInput.from_event(event).to_payload()


# --- the example flows --------------------------------------------------------------------


async def test_parallel_merge_counts_every_step_and_completes_once() -> None:
    comm = WebsocketCommunicator(application, "/")
    assert (await comm.connect())[0]
    trace = f"merge-{time.time_ns()}"
    join = {"streamName": "parallelMerge", "groupId": "merge-groups", "id": trace}
    await comm.send_json_to({"type": "join", "data": {**join, "subscriptionId": "m"}})
    assert (await comm.receive_json_from(timeout=WAIT))["event"] == {"type": "sync", "data": None}

    response = await AsyncClient().post(
        "/stream-parallel-merge",
        data=json.dumps({"totalSteps": 5, "traceId": trace}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json() == {"traceId": trace, "totalSteps": 5}
    counts: list[int] = []
    while not counts or counts[-1] < 5:
        frame = await comm.receive_json_from(timeout=WAIT)
        counts.append(frame["event"]["data"]["completedSteps"])
    assert counts == [0, 1, 2, 3, 4, 5], "no update dropped"
    await comm.disconnect()

    def completions() -> list[str]:
        return [r.status for r in StepRun.objects.filter(step_name="StreamMergeComplete")]

    await sync_to_async(wait_for)(lambda: completions(), "the completion step")
    await sync_to_async(time.sleep)(0.5)
    assert await sync_to_async(completions)() == ["succeeded"], "the completion runs once"

    def traces() -> set[str]:
        names = ["StartStreamParallelMerge", "StreamStepProcess", "StreamMergeComplete"]
        return set(StepRun.objects.filter(step_name__in=names).values_list("trace_id", flat=True))

    assert await sync_to_async(traces)() == {response["X-Trace-Id"]}, "one trace for the flow"


async def test_custom_event_reaches_group_subscribers() -> None:
    comm = WebsocketCommunicator(application, "/")
    assert (await comm.connect())[0]
    join = {"streamName": "notifications", "groupId": "room-1", "subscriptionId": "n"}
    await comm.send_json_to({"type": "join", "data": join})
    assert (await comm.receive_json_from(timeout=WAIT))["event"]["type"] == "sync"
    response = await AsyncClient().post(
        "/notify",
        data=json.dumps({"groupId": "room-1", "message": "deploy finished"}),
        content_type="application/json",
    )
    assert response.status_code == 200
    frame = await comm.receive_json_from(timeout=WAIT)
    assert frame["id"] is None
    assert frame["event"]["type"] == "event"
    assert frame["event"]["event"]["type"] == "custom"
    assert frame["event"]["event"]["data"]["message"] == "deploy finished"
    await comm.disconnect()


async def test_multi_trigger_step_announces_todo_changes() -> None:
    comm = WebsocketCommunicator(application, "/")
    assert (await comm.connect())[0]
    join = {"streamName": "notifications", "groupId": "todos", "subscriptionId": "n"}
    await comm.send_json_to({"type": "join", "data": join})
    await comm.receive_json_from(timeout=WAIT)
    response = await AsyncClient().post(
        "/todos", data=json.dumps({"description": "x"}), content_type="application/json"
    )
    todo_id = response.json()["todo"]["id"]
    frame = await comm.receive_json_from(timeout=WAIT)
    assert frame["event"]["event"] == {
        "type": "todo",
        "data": {"change": "create", "todoId": todo_id},
    }
    await sync_to_async(enqueue)(
        {"topic": "todo.announce", "data": {"message": "standup"}}, trace_id="t"
    )
    frame = await comm.receive_json_from(timeout=WAIT)
    assert frame["event"]["event"]["data"] == {"change": "announcement", "message": "standup"}
    await comm.disconnect()


def test_dead_letters_are_listed_and_redriven_from_the_admin(
    define_step: DefineStep, admin_client: Any
) -> None:
    done = Counter()
    define_step(
        lambda input, ctx: done.add(input),
        name="FromAdmin",
        triggers=[{"type": "queue", "topic": "t.admin"}],
    )
    letter = dead_letter("FromAdmin", "t.admin", {"n": 2}, error="RuntimeError: upstream down")
    listing = admin_client.get("/admin/steps/deadletter/")
    assert b"upstream down" in listing.content
    response = admin_client.post(
        "/admin/steps/deadletter/",
        {"action": "redrive_selected", "_selected_action": [letter.pk]},
        follow=True,
    )
    assert b"Re-drove 1 message" in response.content
    wait_for(lambda: done.calls == [{"n": 2}], "the message re-driven from the admin")
    assert admin_client.get("/admin/steps/steprun/").status_code == 200


@pytest.mark.parametrize("expression", ["* * * * * *", "* * * * * * *"])
def test_cron_steps_run_on_schedule_through_celery_beat(
    define_step: DefineStep, expression: str
) -> None:
    fired = Counter()
    step = define_step(
        lambda input, ctx: fired.add(input),
        name="EverySecond",
        triggers=[{"type": "cron", "expression": expression}],
    )
    scheduler = Scheduler(app=current_app, schedule={}, lazy=True)
    scheduler.update_from_dict(beat_schedule([step]))
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:
        time.sleep(min(scheduler.tick(), 0.2))
    wait_for(lambda: len(fired.calls) >= 2, "two runs a second apart")
    first = fired.calls[0]
    assert isinstance(first, CronInput)
    assert first.expression == expression
    assert all(r.kind == "cron" and r.status == "succeeded" for r in runs("EverySecond"))


def test_a_run_keeps_what_its_handler_logged(define_step: DefineStep) -> None:
    async def chatty(input: Any, ctx: Any) -> None:
        ctx.logger.info("working", {"n": input["n"]})
        ctx.logger.warning("almost done")

    define_step(chatty, name="Chatty", triggers=[{"type": "queue", "topic": "t.chatty"}])
    enqueue({"topic": "t.chatty", "data": {"n": 4}}, trace_id="trace-logs")
    run = wait_for(
        lambda: StepRun.objects.filter(step_name="Chatty", status="succeeded").first(),
        "the run",
    )
    assert run.trace_id == "trace-logs"
    assert [(e["level"], e["msg"], e["fields"]) for e in run.logs] == [
        ("info", "working", {"n": 4}),
        ("warning", "almost done", {}),
    ]
