"""``inbox``: per-group counters such as the number of clients watching a todo group."""

from pydantic import BaseModel, ConfigDict

from streams import StreamConfig


class Inbox(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    watching: int = 0


config = StreamConfig(name="inbox", schema=Inbox)
