"""Motia's stream types (``motia.types_stream``): ``StreamConfig`` and what its hooks get.

A ``*_stream.py`` file's ``config`` may be a Motia :class:`StreamConfig`: the stream
registry takes it through :meth:`StreamConfig.as_stream_config` (a duck-typed protocol, so
that the ``streams`` app never imports this one), which gives the engine's config with the
hooks adapted (:mod:`steps.motia.stream_hooks`).
"""

import warnings
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PrivateAttr

from streams.definitions import StreamConfig as EngineStreamConfig


class StreamSubscription(BaseModel):
    """What ``on_join``/``on_leave`` get: the group and, for an item subscription, its id
    (and, here, the stream's name)."""

    model_config = ConfigDict(extra="allow")

    group_id: str
    id: str | None = None


class StreamAuthInput(BaseModel):
    """What Motia's stream authentication gets (see ``STREAMS_AUTHENTICATE`` here)."""

    headers: dict[str, str]
    path: str
    query_params: dict[str, list[str]]
    addr: str


class StreamAuthResult(BaseModel):
    """What Motia's stream authentication answers."""

    authorized: bool
    context: Any | None = None


# Motia names a field ``schema``, which pydantic warns shadows its old ``BaseModel.schema``.
warnings.filterwarnings("ignore", 'Field name "schema"', UserWarning, __name__)


class StreamConfig(BaseModel):
    """A stream: its ``name``, a JSON ``schema`` (or a pydantic model) of its items,
    ``base_config`` (``{"storageType": "default"}``) and the optional hooks
    ``on_join(subscription, ctx, auth_context)``, which may answer ``{"unauthorized": True}``,
    and ``on_leave``."""

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True, extra="allow")

    name: str
    description: str | None = None
    schema: Any = None  # Motia's name, shadowing pydantic's deprecated method
    base_config: dict[str, Any] | None = Field(
        default=None, validation_alias=AliasChoices("base_config", "baseConfig")
    )
    on_join: Any = Field(default=None, validation_alias=AliasChoices("on_join", "onJoin"))
    on_leave: Any = Field(default=None, validation_alias=AliasChoices("on_leave", "onLeave"))
    _engine_config: EngineStreamConfig | None = PrivateAttr(default=None)

    def as_stream_config(self) -> EngineStreamConfig:
        """The engine's config of this stream (the same one each time)."""
        if self._engine_config is None:
            from .stream_hooks import engine_hook

            base = dict(self.base_config or {})
            storage = base.pop("storageType", base.pop("storage_type", "default"))
            self._engine_config = EngineStreamConfig(
                name=self.name,
                schema=self.schema,
                base_config={**base, "storage_type": storage},
                on_join=engine_hook(self.on_join, "join") if self.on_join else None,
                on_leave=engine_hook(self.on_leave, "leave") if self.on_leave else None,
            )
        return self._engine_config
