from streams import StreamConfig

config = StreamConfig(name="note_count")
