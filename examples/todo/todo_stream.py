"""The ``todo`` stream of Motia's streaming guide, with join/leave hooks that count watchers in
``inbox``."""

from typing import Any

from pydantic import BaseModel

from streams import StreamConfig, Subscription


class Todo(BaseModel):
    id: str
    description: str
    createdAt: str
    dueDate: str | None = None
    completedAt: str | None = None


async def on_join(subscription: Subscription, context: Any, auth_context: Any) -> dict[str, bool]:
    # Track active watchers
    await context.streams.inbox.update(
        "watching", subscription.group_id, [{"type": "increment", "path": "watching", "by": 1}]
    )
    context.logger.info(
        "Todo stream joined", {"groupId": subscription.group_id, "authContext": auth_context}
    )
    # Return authorization decision
    return {"unauthorized": False}


async def on_leave(subscription: Subscription, context: Any, auth_context: Any) -> None:
    # Decrement watcher count
    await context.streams.inbox.update(
        "watching", subscription.group_id, [{"type": "decrement", "path": "watching", "by": 1}]
    )
    context.logger.info("Todo stream left", {"groupId": subscription.group_id})


config = StreamConfig(
    name="todo",
    schema=Todo,
    base_config={"storage_type": "default"},
    on_join=on_join,
    on_leave=on_leave,
)
