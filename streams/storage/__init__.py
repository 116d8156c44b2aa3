"""Storage and the Stream API: ``ctx.streams.<name>`` (:mod:`.store`), update ops
(:mod:`.ops`), what a batch of changes does (:mod:`.changes`), group commit
(:mod:`.batching`), the SQL the store runs (:mod:`.sql`), the replay log's rules
(:mod:`.replay`) and plain ORM writes of items made changes (:mod:`.model_writes`).
"""

from typing import TYPE_CHECKING

from ..runtime import LazyExports

if TYPE_CHECKING:
    from . import model_writes, replay, store
    from .ops import UpdateOpError
    from .sql import ItemsPage, read_items_page, read_log_page
    from .store import (
        StreamKeyError,
        Streams,
        delete_item,
        group_timestamp,
        prepare_item,
        set_item,
        snapshot,
    )

__all__ = [
    "ItemsPage",
    "StreamKeyError",
    "Streams",
    "UpdateOpError",
    "delete_item",
    "group_timestamp",
    "model_writes",
    "prepare_item",
    "read_items_page",
    "read_log_page",
    "replay",
    "set_item",
    "snapshot",
    "store",
]

__getattr__ = LazyExports(
    __name__,
    {
        "ops": ["UpdateOpError"],
        "sql": ["ItemsPage", "read_items_page", "read_log_page"],
        "store": [
            "StreamKeyError",
            "Streams",
            "delete_item",
            "group_timestamp",
            "prepare_item",
            "set_item",
            "snapshot",
        ],
    },
    modules=["model_writes", "replay", "store"],
)
