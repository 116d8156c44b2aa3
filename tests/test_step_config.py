"""Step configs: every key in both spellings at every level, and every refusal named (pure)."""

from typing import Any

import pytest
from pydantic import BaseModel

from steps.definitions.config import (
    CronTrigger,
    HttpTrigger,
    QueryParam,
    QueueConfig,
    QueueTrigger,
    StepConfig,
    StepConfigError,
    StreamTrigger,
)
from steps.definitions.retry import RetryPolicy
from steps.running.execution import prepare
from tests.helpers.step_builder import build_step


class Body(BaseModel):
    text: str


def condition(input: Any, ctx: Any) -> bool:
    return True


def step(*triggers: Any, **keys: Any) -> dict[str, Any]:
    """A raw config named ``S`` with ``triggers`` and any top-level ``keys``."""
    return {"name": "S", "triggers": list(triggers), **keys}


HTTP = {"type": "http", "method": "GET", "path": "/s"}
QUEUE = {"type": "queue", "topic": "t"}

RESPONSES = {201: Body, "204": None, 400: {"type": "object"}}
QUERY = [{"name": "q", "description": "what to find"}]

# A trigger's keys written the same in both spellings, those in snake_case, the same in
# camelCase, and what it parses to.
SPELLINGS = [
    pytest.param(
        {"type": "http", "method": "post", "path": "/notes/:id", "description": "Add a note"},
        {"body_schema": Body, "response_schema": RESPONSES, "query_params": QUERY},
        {"bodySchema": Body, "responseSchema": RESPONSES, "queryParams": QUERY},
        HttpTrigger(
            method="POST",
            path="/notes/:id",
            body_schema=Body,
            response_schema={201: Body, 204: None, 400: {"type": "object"}},
            query_params=(QueryParam(name="q", description="what to find"),),
            description="Add a note",
        ),
        id="http",
    ),
    pytest.param(
        {"type": "queue", "topic": "t", "input": Body, "condition": condition},
        {
            "config": {
                "max_retries": 5,
                "backoff_delay_ms": 250,
                "backoff_type": "fixed",
                "delay_seconds": 2,
                "visibility_timeout": 60,
                "concurrency": 4,
            }
        },
        {
            "config": {
                "maxRetries": 5,
                "backoffDelayMs": 250,
                "backoffType": "fixed",
                "delaySeconds": 2,
                "visibilityTimeout": 60,
                "concurrency": 4,
            }
        },
        QueueTrigger(
            topic="t",
            input=Body,
            condition=condition,
            config=QueueConfig(
                max_retries=5,
                backoff_ms=250,
                backoff_type="fixed",
                delay_seconds=2,
                visibility_timeout=60,
                concurrency=4,
            ),
        ),
        id="queue",
    ),
    pytest.param(
        QUEUE,
        {"config": {"backoff_ms": 500}},
        {"config": {"backoffMs": 500}},
        QueueTrigger(topic="t", config=QueueConfig(backoff_ms=500)),
        id="queue-backoffMs",
    ),
    pytest.param(
        {"type": "stream"},
        {"stream_name": "s", "group_id": "g", "item_id": "i"},
        {"streamName": "s", "groupId": "g", "itemId": "i"},
        StreamTrigger(stream_name="s", group_id="g", item_id="i"),
        id="stream",
    ),
    pytest.param(
        {"type": "cron", "condition": condition},
        {"expression": "*/5 * * * *"},
        {"cron": "*/5 * * * *"},  # Motia's older key
        CronTrigger(expression="*/5 * * * *", condition=condition),
        id="cron",
    ),
]


@pytest.mark.parametrize(("same", "snake", "camel", "trigger"), SPELLINGS)
def test_each_trigger_key_is_taken_in_both_spellings(
    same: dict[str, Any], snake: dict[str, Any], camel: dict[str, Any], trigger: Any
) -> None:
    assert StepConfig.parse(step({**same, **snake})).triggers == (trigger,)
    assert StepConfig.parse(step({**same, **camel})).triggers == (trigger,)


JSON_BODY = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


def middleware(request: Any, ctx: Any, next: Any) -> Any:
    return next()


def test_http_triggers_take_a_condition_middleware_and_json_schema_bodies() -> None:
    raw = {**HTTP, "bodySchema": JSON_BODY, "condition": condition, "middleware": [middleware]}
    (trigger,) = StepConfig.parse(step(raw)).triggers
    assert isinstance(trigger, HttpTrigger)
    assert trigger.body_schema == JSON_BODY
    assert (trigger.condition, trigger.middleware) == (condition, (middleware,))
    assert trigger.body_validator is not None and trigger.body_validator.is_valid({"text": "a"})
    (bare,) = StepConfig.parse(step({**HTTP, "middleware": None, "condition": None})).triggers
    assert isinstance(bare, HttpTrigger)
    assert (bare.condition, bare.middleware, bare.body_validator) == (None, (), None)


def test_a_queue_input_may_be_a_json_schema() -> None:
    (trigger,) = StepConfig.parse(step({**QUEUE, "input": JSON_BODY})).triggers
    assert isinstance(trigger, QueueTrigger)
    assert trigger.input == JSON_BODY
    assert trigger.input_validator is not None
    assert not trigger.input_validator.is_valid({"text": 1})


def test_each_step_key_is_taken_in_both_spellings() -> None:
    keys = {
        "enqueues": ["a", {"topic": "b", "label": "to B", "conditional": True}],
        "virtual_enqueues": [{"topic": "c"}],
        "virtual_subscribes": ["d"],
        "include_files": ["prompt.txt"],
        "flows": ["f"],
        "description": "A step",
    }
    camel = {
        "enqueues": keys["enqueues"],
        "virtualEnqueues": keys["virtual_enqueues"],
        "virtualSubscribes": keys["virtual_subscribes"],
        "includeFiles": keys["include_files"],
        "flows": keys["flows"],
        "description": keys["description"],
    }
    for raw in (step(QUEUE, **keys), step(QUEUE, **camel)):
        config = StepConfig.parse(raw)
        assert (config.enqueues, config.virtual_enqueues) == (("a", "b"), ("c",))
        assert (config.virtual_subscribes, config.include_files) == (("d",), ("prompt.txt",))
        assert (config.flows, config.description) == (("f",), "A step")


def test_none_reads_as_empty_as_in_motias_python_types() -> None:
    config = StepConfig.parse(
        step(
            {**HTTP, "queryParams": None, "responseSchema": None},
            {**QUEUE, "config": None},
            enqueues=None,
            virtualSubscribes=None,
            flows=None,
            description=None,
        )
    )
    assert config == StepConfig.parse(step(HTTP, QUEUE))


def test_a_queue_trigger_gives_its_retry_policy() -> None:
    default, fixed = StepConfig.parse(
        step(QUEUE, {**QUEUE, "config": {"maxRetries": 1, "backoffType": "fixed"}})
    ).triggers
    assert isinstance(default, QueueTrigger) and isinstance(fixed, QueueTrigger)
    assert default.retry == RetryPolicy()
    assert [default.retry.delay_after(n) for n in range(3)] == [1, 2, 4]
    assert fixed.retry == RetryPolicy(max_retries=1, backoff_type="fixed")
    assert [fixed.retry.delay_after(n) for n in range(3)] == [1, 1, 1]


def test_parsed_configs_are_immutable() -> None:
    config = StepConfig.parse(step(HTTP))
    # The assignments are the test: a type checker refuses them too, hence the ignores.
    with pytest.raises(ValueError, match="frozen"):
        config.name = "T"  # type: ignore[misc]
    trigger = config.triggers[0]
    assert isinstance(trigger, HttpTrigger)
    with pytest.raises(ValueError, match="frozen"):
        trigger.path = "/t"  # type: ignore[misc]


REFUSED = [
    # the step
    ({"triggers": [HTTP]}, "step: 'name' is required"),
    ("S", "a step's 'config' must be a dict"),
    (step(), "step 'S': 'triggers' must list at least one trigger"),
    (step(HTTP, colour=1), "step 'S': unknown key 'colour'"),
    (
        step(HTTP, virtualSubscribe=["x"]),
        "step 'S': unknown key 'virtualSubscribe' (did you mean 'virtualSubscribes'?)",
    ),
    (
        step(HTTP, virtualSubscribes=["x"], virtual_subscribes=["x"]),
        "step 'S': 'virtual_subscribes' and 'virtualSubscribes' are the same key: give it once",
    ),
    (step(HTTP, flows="todo"), "step 'S': 'flows' must be a list"),
    (step(HTTP, enqueues=[{"label": "x"}]), "step 'S': 'enqueues[0].topic' is required"),
    (step(HTTP, enqueues=[3]), "step 'S': 'enqueues[0]': input should be a valid string"),
    # any trigger
    (step({"type": "carrier-pigeon"}), "step 'S' trigger 0: unknown trigger type 'carrier-pigeon'"),
    (step({"topic": "t"}), "step 'S' trigger 0: a trigger needs a 'type'"),
    (step("http"), "step 'S' trigger 0: must be a dict"),
    (step(HTTP, {"type": "state"}), "step 'S' trigger 1: unknown trigger type 'state'"),
    # http
    (
        {"name": "CreateTodo", "triggers": [{**HTTP, "path": "todos"}]},
        "step 'CreateTodo' trigger 0: 'path' must start with '/'",
    ),
    (step({**HTTP, "method": "FETCH"}), "step 'S' trigger 0: 'method' must be one of GET, POST"),
    (step({**HTTP, "method": None}), "step 'S' trigger 0: 'method' must be one of"),
    (step({"type": "http", "path": "/s"}), "step 'S' trigger 0: 'method' is required"),
    (
        step({**HTTP, "bodySchema": dict}),
        "step 'S' trigger 0: 'bodySchema' must be a pydantic model class or a JSON-schema dict",
    ),
    (
        step({**HTTP, "bodySchema": {"type": "text"}}),
        "step 'S' trigger 0: 'bodySchema' is not a JSON schema: 'text' is not valid",
    ),
    (
        step({**HTTP, "bodyschema": Body}),
        "step 'S' trigger 0: unknown key 'bodyschema' (did you mean 'bodySchema'?)",
    ),
    (
        step({**HTTP, "queryParams": [{"description": "q"}]}),
        "step 'S' trigger 0: 'queryParams[0].name' is required",
    ),
    (step({**HTTP, "middleware": condition}), "step 'S' trigger 0: 'middleware' must be a list"),
    (
        step({**HTTP, "middleware": [condition, "auth"]}),
        "step 'S' trigger 0: 'middleware[1]': input should be callable",
    ),
    (step({**HTTP, "condition": 1}), "step 'S' trigger 0: 'condition': input should be callable"),
    (
        step({**HTTP, "responseSchema": {"ok": Body}}),
        "'responseSchema' has 'ok', which is not an HTTP status code",
    ),
    (
        step({**HTTP, "responseSchema": {700: None}}),
        "'responseSchema' has 700, which is not an HTTP status code",
    ),
    (
        step({**HTTP, "responseSchema": {True: None}}),
        "'responseSchema' has True, which is not an HTTP status code",
    ),
    (
        step({**HTTP, "responseSchema": {200: str}}),
        "'responseSchema' [200] must be a pydantic model class",
    ),
    (
        step({**HTTP, "responseSchema": {200: {"type": 3}}}),
        "'responseSchema' [200] is not a JSON schema: 3 is not valid",
    ),
    (step({**HTTP, "responseSchema": [200]}), "'responseSchema' must map status codes to schemas"),
    # queue
    (
        step({**QUEUE, "topic": ""}),
        "step 'S' trigger 0: 'topic': string should have at least 1 character",
    ),
    (
        step({**QUEUE, "input": {"type": "object", "required": "id"}}),
        "step 'S' trigger 0: 'input' is not a JSON schema: 'id' is not of type 'array'",
    ),
    (
        step({**QUEUE, "input": int}),
        "step 'S' trigger 0: 'input' must be a pydantic model class or a JSON-schema dict",
    ),
    (
        step({**QUEUE, "condition": True}),
        "step 'S' trigger 0: 'condition': input should be callable",
    ),
    (step({**QUEUE, "config": 5}), "step 'S' trigger 0: 'config' must be a dict"),
    (
        step({**QUEUE, "config": {"maxRetries": -1}}),
        "'config.maxRetries': input should be greater than or equal to 0",
    ),
    (
        step({**QUEUE, "config": {"max_retries": "3"}}),
        "'config.max_retries': input should be a valid integer",
    ),
    (
        step({**QUEUE, "config": {"maxRetries": True}}),
        "'config.maxRetries': input should be a valid integer",
    ),
    (
        step({**QUEUE, "config": {"delaySeconds": -1}}),
        "'config.delaySeconds': input should be greater than or equal to 0",
    ),
    (
        step({**QUEUE, "config": {"concurrency": 0}}),
        "'config.concurrency': input should be greater than 0",
    ),
    (
        step({**QUEUE, "config": {"backoffType": "linear"}}),
        "'config.backoffType': input should be 'exponential' or 'fixed'",
    ),
    (step({**QUEUE, "config": {"type": "fifo"}}), "'config.type' must be 'standard', not 'fifo'"),
    (
        step({**QUEUE, "config": {"retries": 3}}),
        "unknown key 'config.retries' (did you mean 'max_retries'?)",
    ),
    (
        step({**QUEUE, "config": {"backoffMs": 1, "backoffDelayMs": 1}}),
        "'config.backoffMs' and 'backoffDelayMs' are the same key",
    ),
    # stream
    (step({"type": "stream", "groupId": "g"}), "step 'S' trigger 0: 'streamName' is required"),
    (
        step({"type": "stream", "streamName": "s", "groupId": 3}),
        "'groupId': input should be a valid string",
    ),
    # cron
    (step({"type": "cron"}), "step 'S' trigger 0: 'expression' is required"),
    (
        step({"type": "cron", "expression": "* *"}),
        "'expression': cron expression '* *' has 2 fields",
    ),
    (
        step({"type": "cron", "expression": "61 * * * *"}),
        "'expression': invalid cron expression '61 * * * *'",
    ),
    (
        step({"type": "cron", "cron": "0 0 30 2 *"}),
        "'cron': cron expression '0 0 30 2 *' never fires",
    ),
    (
        step({"type": "cron", "expression": "0 0 0 1 1 * 2020"}),
        "'expression': cron expression '0 0 0 1 1 * 2020' never fires again",
    ),
    (
        step({"type": "cron", "expression": "* * * * *", "input": Body}),
        "step 'S' trigger 0: unknown key 'input'",
    ),
]


@pytest.mark.parametrize(("raw", "message"), REFUSED)
def test_each_refusal_names_the_step_the_trigger_and_the_key(raw: Any, message: str) -> None:
    with pytest.raises(StepConfigError) as refused:
        StepConfig.parse(raw)
    assert len(refused.value.problems) == 1, refused.value.problems
    assert message in refused.value.problems[0].message


def test_every_problem_is_reported_and_cron_ones_are_told_apart() -> None:
    raw = step({"type": "cron", "expression": "* *"}, {**HTTP, "path": "s"}, {**QUEUE, "colour": 1})
    with pytest.raises(StepConfigError) as refused:
        StepConfig.parse(raw)
    assert [(p.kind, p.message.split(":")[0]) for p in refused.value.problems] == [
        ("cron", "step 'S' trigger 0"),
        ("config", "step 'S' trigger 1"),
        ("config", "step 'S' trigger 2"),
    ]
    assert str(refused.value).count("\n") == 2


def test_a_cron_condition_can_skip_a_run() -> None:
    def only_when(input: Any, ctx: Any) -> bool:
        return input.expression == ctx.trigger.expression == "* * * * *" and skip is False

    cron = build_step(**step({"type": "cron", "expression": "* * * * *", "condition": only_when}))
    trigger = cron.config.triggers[0]
    skip = False
    assert prepare(cron, trigger, {}, "trace", []) is not None
    skip = True
    assert prepare(cron, trigger, {}, "trace", []) is None
