from pydantic import BaseModel

from streams import StreamConfig


class Note(BaseModel):
    id: str
    text: str


config = StreamConfig(name="note", schema=Note)
