"""A stream defined as a dict with Motia's camelCase keys; its hook gets Motia's arguments."""

from motia import FlowContext, logger


def refuse_locked(subscription, ctx: FlowContext, auth_context):
    logger.info("join", {"group": subscription.group_id, "trace": ctx.trace_id})
    return {"unauthorized": subscription.group_id == "locked"}


config = {
    "name": "rooms",
    "description": "Chat rooms",
    "schema": {"type": "object", "properties": {"topic": {"type": "string"}}},
    "baseConfig": {"storageType": "default"},
    "onJoin": refuse_locked,
}
