"""The Python asyncio client of the stream socket (:mod:`.stream_client`) and the state rules
every client follows (:mod:`.state`, pure): ``from streams.client import StreamClient``.
"""

from typing import TYPE_CHECKING

from ..runtime import LazyExports

if TYPE_CHECKING:
    from .stream_client import (
        GroupSubscription,
        ItemSubscription,
        StreamClient,
        StreamClientError,
        StreamConnectionError,
        StreamServerError,
        TokenPlace,
    )

__all__ = [
    "GroupSubscription",
    "ItemSubscription",
    "StreamClient",
    "StreamClientError",
    "StreamConnectionError",
    "StreamServerError",
    "TokenPlace",
]

__getattr__ = LazyExports(
    __name__,
    {
        "stream_client": [
            "GroupSubscription",
            "ItemSubscription",
            "StreamClient",
            "StreamClientError",
            "StreamConnectionError",
            "StreamServerError",
            "TokenPlace",
        ]
    },
)
