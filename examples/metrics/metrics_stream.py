"""``metrics``: live figures of the server, kept up to date by a cron step."""

from pydantic import BaseModel, ConfigDict

from streams import StreamConfig


class Metrics(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    collectedAt: str


config = StreamConfig(name="metrics", schema=Metrics)
