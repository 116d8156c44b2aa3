"""``counter``: the atomic-update example of Motia's streaming guide, one counter per item."""

from pydantic import BaseModel

from streams import StreamConfig


class Counter(BaseModel):
    id: str
    value: int = 0


config = StreamConfig(name="counter", schema=Counter, base_config={"storage_type": "default"})
