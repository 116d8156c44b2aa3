"""From a committed change to every process's sockets: the change as an event
(:mod:`.events`), its way through the channel layer (:mod:`.broadcast`), each event
loop's fan-out to the sockets that watch its group (:mod:`.hub`, in version order:
:mod:`.sequencing`) and how many sockets each event reached (:mod:`.reach`).
"""

from typing import TYPE_CHECKING

from ..runtime import LazyExports

if TYPE_CHECKING:
    from . import broadcast, reach
    from .broadcast import published, wait_published
    from .events import ChangeType, StreamEvent, current_trace_id, now_ms
    from .hub import LOST_AFTER_SECONDS, GroupKey, Hub, crosses_processes, get_hub

__all__ = [
    "LOST_AFTER_SECONDS",
    "ChangeType",
    "GroupKey",
    "Hub",
    "StreamEvent",
    "broadcast",
    "crosses_processes",
    "current_trace_id",
    "get_hub",
    "now_ms",
    "published",
    "reach",
    "wait_published",
]

__getattr__ = LazyExports(
    __name__,
    {
        "broadcast": ["published", "wait_published"],
        "events": ["ChangeType", "StreamEvent", "current_trace_id", "now_ms"],
        "hub": ["GroupKey", "Hub", "LOST_AFTER_SECONDS", "crosses_processes", "get_hub"],
    },
    modules=["broadcast", "reach"],
)
