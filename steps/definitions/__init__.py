"""What a step is: its ``config`` and triggers (:mod:`.config`, with cron expressions:
:mod:`.crontab`, and retry policies: :mod:`.retry`), the steps by name
(:mod:`.step_registry`) and grouped by flow (:mod:`.flows`), and what a handler gets:
its ``input`` (:mod:`.inputs`, with the body field types of :mod:`.fields`) and its
``ctx`` (:mod:`.context`).
"""

from typing import TYPE_CHECKING

from streams.runtime import LazyExports

if TYPE_CHECKING:
    from .config import (
        HTTP_METHODS,
        CronTrigger,
        HttpTrigger,
        ProblemKind,
        QueueTrigger,
        ResponseSchema,
        StepConfig,
        StepConfigError,
        StreamTrigger,
        Trigger,
    )
    from .context import FlowContext, new_trace_id
    from .crontab import EARLIEST, next_after, next_fire_times, to_utc, validate_expression
    from .fields import StoredText, StreamKey
    from .flows import describe_trigger, flows_overview, format_overview
    from .inputs import CronInput, InvalidInput, StreamTriggerInput, validate_queue_input
    from .retry import RetryPolicy
    from .step_registry import LoadError, Step, StepRegistry, registry

__all__ = [
    "EARLIEST",
    "HTTP_METHODS",
    "CronInput",
    "CronTrigger",
    "FlowContext",
    "HttpTrigger",
    "InvalidInput",
    "LoadError",
    "ProblemKind",
    "QueueTrigger",
    "ResponseSchema",
    "RetryPolicy",
    "Step",
    "StepConfig",
    "StepConfigError",
    "StepRegistry",
    "StoredText",
    "StreamKey",
    "StreamTrigger",
    "StreamTriggerInput",
    "Trigger",
    "describe_trigger",
    "flows_overview",
    "format_overview",
    "new_trace_id",
    "next_after",
    "next_fire_times",
    "registry",
    "to_utc",
    "validate_expression",
    "validate_queue_input",
]

__getattr__ = LazyExports(
    __name__,
    {
        "config": [
            "CronTrigger",
            "HTTP_METHODS",
            "HttpTrigger",
            "ProblemKind",
            "QueueTrigger",
            "ResponseSchema",
            "StepConfig",
            "StepConfigError",
            "StreamTrigger",
            "Trigger",
        ],
        "context": ["FlowContext", "new_trace_id"],
        "crontab": ["EARLIEST", "next_after", "next_fire_times", "to_utc", "validate_expression"],
        "fields": ["StoredText", "StreamKey"],
        "flows": ["describe_trigger", "flows_overview", "format_overview"],
        "inputs": ["CronInput", "InvalidInput", "StreamTriggerInput", "validate_queue_input"],
        "retry": ["RetryPolicy"],
        "step_registry": ["LoadError", "Step", "StepRegistry", "registry"],
    },
)
