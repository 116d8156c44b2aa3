"""``notifications``: a stream used only for custom events (nothing stored)."""

from streams import StreamConfig

config = StreamConfig(name="notifications")
