"""What both engine apps run on in a process: the database threads (:mod:`.db`, with
the connections' :mod:`.liveness`), the background services started and stopped in
one place (:mod:`.lifecycle`), waiting for what was handed to a background sender
(:mod:`.pending_sends`) and a sender's pause during a service's outage
(:mod:`.service_outage`), running plain user code on the sync threads (:mod:`.hooks`),
finding ``*_stream.py`` and ``*_step.py`` modules (:mod:`.discovery`, :mod:`.reloading`),
and the engine's logging (:mod:`.logger`, :mod:`.log_formats`, :mod:`.log_config`).

Nothing here imports the models: a project's settings import its face
(``POOL_OPTIONS``, ``logging_config``, the formatters' dotted paths).
"""

from typing import TYPE_CHECKING

from .faces import LazyExports

if TYPE_CHECKING:
    from . import db, lifecycle
    from .discovery import discover_module_names, import_definition, import_explainers, in_apps
    from .faces import LazyExports
    from .hooks import is_async, run_plain
    from .liveness import POOL_OPTIONS, pool_problems
    from .log_config import attach_default_handlers, logging_config
    from .log_formats import ConsoleFormatter, StructuredFormatter
    from .logger import FlowLogger
    from .pending_sends import Handoff
    from .reloading import watch_definitions
    from .service_outage import Outage

__all__ = [
    "POOL_OPTIONS",
    "ConsoleFormatter",
    "FlowLogger",
    "Handoff",
    "LazyExports",
    "Outage",
    "StructuredFormatter",
    "attach_default_handlers",
    "db",
    "discover_module_names",
    "import_definition",
    "import_explainers",
    "in_apps",
    "is_async",
    "lifecycle",
    "logging_config",
    "pool_problems",
    "run_plain",
    "watch_definitions",
]

__getattr__ = LazyExports(
    __name__,
    {
        "discovery": ["discover_module_names", "import_definition", "import_explainers", "in_apps"],
        "faces": ["LazyExports"],
        "hooks": ["is_async", "run_plain"],
        "liveness": ["POOL_OPTIONS", "pool_problems"],
        "log_config": ["attach_default_handlers", "logging_config"],
        "log_formats": ["ConsoleFormatter", "StructuredFormatter"],
        "logger": ["FlowLogger"],
        "pending_sends": ["Handoff"],
        "reloading": ["watch_definitions"],
        "service_outage": ["Outage"],
    },
    modules=["db", "lifecycle"],
)
