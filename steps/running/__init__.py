"""Queue, stream and cron triggers: ``enqueue`` (:mod:`.queue`), stream events that run
steps (:mod:`.stream_triggers`), the sender of runs to the broker (:mod:`.sending`,
tasks addressed by :mod:`.task_names`), running a handler for a message
(:mod:`.execution`), cron as beat entries (:mod:`.cron`), the embedded worker and beat
(:mod:`.worker`), workers' heartbeats (:mod:`.heartbeat`), and a step run by hand
(:mod:`.manual`), in a command's own process (:mod:`.local_runs`).
"""

from typing import TYPE_CHECKING

from streams.runtime import LazyExports

if TYPE_CHECKING:
    from .cron import beat_schedule
    from .execution import prepare, run_coroutine, takes_ctx
    from .heartbeat import HeartbeatStep, heartbeats
    from .local_runs import InFlight, run_here
    from .manual import TRACE_ID, ManualRunError, Sent, enqueue_now, fire_cron_now, parse_json
    from .queue import EnqueueError, enqueue, subscribers
    from .sending import OutgoingRun, SendFailed, send_runs, send_to_step, sender
    from .stream_triggers import dispatch_stream_triggers
    from .task_names import RUN_STEP, RUN_STEP_BATCH, STORE_DEAD_LETTER
    from .worker import embedded_worker_runs, start_embedded_worker, use_in_process_broker

__all__ = [
    "RUN_STEP",
    "RUN_STEP_BATCH",
    "STORE_DEAD_LETTER",
    "TRACE_ID",
    "EnqueueError",
    "HeartbeatStep",
    "InFlight",
    "ManualRunError",
    "OutgoingRun",
    "SendFailed",
    "Sent",
    "beat_schedule",
    "dispatch_stream_triggers",
    "embedded_worker_runs",
    "enqueue",
    "enqueue_now",
    "fire_cron_now",
    "heartbeats",
    "parse_json",
    "prepare",
    "run_coroutine",
    "run_here",
    "send_runs",
    "send_to_step",
    "sender",
    "start_embedded_worker",
    "subscribers",
    "takes_ctx",
    "use_in_process_broker",
]

__getattr__ = LazyExports(
    __name__,
    {
        "cron": ["beat_schedule"],
        "execution": ["prepare", "run_coroutine", "takes_ctx"],
        "heartbeat": ["HeartbeatStep", "heartbeats"],
        "local_runs": ["InFlight", "run_here"],
        "manual": [
            "ManualRunError",
            "Sent",
            "TRACE_ID",
            "enqueue_now",
            "fire_cron_now",
            "parse_json",
        ],
        "queue": ["EnqueueError", "enqueue", "subscribers"],
        "sending": ["OutgoingRun", "SendFailed", "send_runs", "send_to_step", "sender"],
        "stream_triggers": ["dispatch_stream_triggers"],
        "task_names": ["RUN_STEP", "RUN_STEP_BATCH", "STORE_DEAD_LETTER"],
        "worker": ["embedded_worker_runs", "start_embedded_worker", "use_in_process_broker"],
    },
)
