"""Motia-style steps on Django: handlers in ``*_step.py`` modules, triggered by http requests,
queue messages, stream changes and cron schedules.

The names a step module uses, besides its ``config`` and ``handler``: the field types of body
schemas (:data:`StreamKey`, :data:`StoredText`), what queue, stream and cron handlers receive
(:class:`StreamTriggerInput`, :class:`StreamChange`, :class:`CronInput`) and the engine's error
body (:class:`ErrorBody`). Each is imported on first use: importing ``steps`` (as Django does
for an installed app) loads nothing else.
"""

from typing import TYPE_CHECKING

from streams.runtime import LazyExports

if TYPE_CHECKING:
    from .definitions.fields import StoredText, StreamKey
    from .definitions.inputs import CronInput, StreamChange, StreamTriggerInput
    from .http.responses import ErrorBody

__all__ = [
    "CronInput",
    "ErrorBody",
    "StoredText",
    "StreamChange",
    "StreamKey",
    "StreamTriggerInput",
]

__getattr__ = LazyExports(
    __name__,
    {
        "definitions.fields": ["StoredText", "StreamKey"],
        "definitions.inputs": ["CronInput", "StreamChange", "StreamTriggerInput"],
        "http.responses": ["ErrorBody"],
    },
)
