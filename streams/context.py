"""The context handed to stream hooks: the streams, a logger and the Django user."""

from dataclasses import dataclass, field
from typing import Any

from .logger import FlowLogger
from .store import Streams


@dataclass
class StreamContext:
    """``ctx`` of ``on_join``/``on_leave`` and ``authenticate_stream``."""

    streams: Streams = field(default_factory=Streams)
    logger: FlowLogger = field(default_factory=lambda: FlowLogger("streams"))
    user: Any = None
