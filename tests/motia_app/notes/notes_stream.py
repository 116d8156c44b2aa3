from motia import StreamConfig, StreamSubscription, logger


def on_join(subscription: StreamSubscription, ctx, auth_context):
    if subscription.group_id == "secret":
        logger.info("join refused", {"group": subscription.group_id})
        return {"unauthorized": True}
    return {"unauthorized": False}


config = StreamConfig(
    name="notes",
    schema={
        "type": "object",
        "properties": {"id": {"type": "string"}, "text": {"type": "string"}},
        "required": ["text"],
    },
    base_config={"storageType": "default"},
    on_join=on_join,
)
