"""Motia-style streams on Django: schema-typed live JSON items pushed over WebSocket.

The public surface: :class:`StreamConfig` to define a stream in a ``*_stream.py`` module, and
``ctx.streams.<name>`` (:class:`~streams.storage.store.Stream`) to read and change it.
"""

from .definitions import StreamConfig, StreamValidationError
from .sockets import Subscription
from .storage import UpdateOpError

__all__ = ["StreamConfig", "StreamValidationError", "Subscription", "UpdateOpError"]
