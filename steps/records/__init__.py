"""What the engine records of runs: every run of a handler (:mod:`.runs`, appended
through :mod:`.pending`), what a trace caused besides (:mod:`.traces`), records as the
database can keep them (:mod:`.storable`) and dead letters re-driven (:mod:`.redriving`).
"""

from typing import TYPE_CHECKING

from streams.runtime import LazyExports

if TYPE_CHECKING:
    from .redriving import CannotRedrive, RedriveStopped, redrive
    from .runs import Run, flush_runs, step_run
    from .storable import storable_json, storable_text
    from .traces import count_reach, record_change, record_cron_fire, record_enqueue, write_now

__all__ = [
    "CannotRedrive",
    "RedriveStopped",
    "Run",
    "count_reach",
    "flush_runs",
    "record_change",
    "record_cron_fire",
    "record_enqueue",
    "redrive",
    "step_run",
    "storable_json",
    "storable_text",
    "write_now",
]

__getattr__ = LazyExports(
    __name__,
    {
        "redriving": ["CannotRedrive", "RedriveStopped", "redrive"],
        "runs": ["Run", "flush_runs", "step_run"],
        "storable": ["storable_json", "storable_text"],
        "traces": [
            "count_reach",
            "record_change",
            "record_cron_fire",
            "record_enqueue",
            "write_now",
        ],
    },
)
