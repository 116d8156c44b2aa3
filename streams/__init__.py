"""Motia-style streams on Django: schema-typed live JSON items pushed over WebSocket.

The public surface: :class:`StreamConfig` to define a stream in a ``*_stream.py`` module, and
``ctx.streams.<name>`` (:class:`~streams.store.Stream`) to read and change it.
"""

from .config import StreamConfig, StreamValidationError
from .ops import UpdateOpError
from .protocol import Subscription

__all__ = ["StreamConfig", "StreamValidationError", "Subscription", "UpdateOpError"]
