"""What a stream is: its config and schema (:mod:`.config`), the streams by name
(:mod:`.stream_registry`) and what a group or item id may be (:mod:`.keys`).
"""

from typing import TYPE_CHECKING

from ..runtime import LazyExports

if TYPE_CHECKING:
    from .config import (
        StreamConfig,
        StreamConfigError,
        StreamValidationError,
        describe_errors,
        field_errors,
        json_schema_errors,
    )
    from .keys import MAX_KEY_LENGTH, key_problem
    from .stream_registry import StreamRegistry, UnknownStreamError, config_readers, registry

__all__ = [
    "MAX_KEY_LENGTH",
    "StreamConfig",
    "StreamConfigError",
    "StreamRegistry",
    "StreamValidationError",
    "UnknownStreamError",
    "config_readers",
    "describe_errors",
    "field_errors",
    "json_schema_errors",
    "key_problem",
    "registry",
]

__getattr__ = LazyExports(
    __name__,
    {
        "config": [
            "StreamConfig",
            "StreamConfigError",
            "StreamValidationError",
            "describe_errors",
            "field_errors",
            "json_schema_errors",
        ],
        "keys": ["MAX_KEY_LENGTH", "key_problem"],
        "stream_registry": ["StreamRegistry", "UnknownStreamError", "config_readers", "registry"],
    },
)
