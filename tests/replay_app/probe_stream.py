"""``probe``: any JSON items, changed by the ``ReplayProbe`` step."""

from streams import StreamConfig

config = StreamConfig(name="probe")
