"""Stream files written against Motia's API, as the stream registry reads them.

A ``*_stream.py`` file's ``config`` may be Motia's ``StreamConfig`` (which the registry takes
as it is, :meth:`~steps.motia.stream_config.StreamConfig.as_stream_config`) or a dict. A dict
of a file that imports ``motia`` is read as Motia's ``StreamConfig`` too, so that its hooks
get Motia's arguments; a file that does not import ``motia`` is the engine's own.
"""

import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import pydantic

from streams.definitions import StreamConfigError


def read_stream_config(module: ModuleType, config: Any) -> Any:
    """``config`` as the registry should take it (the registry's ``config_readers``)."""
    motia = sys.modules.get("motia")
    if not isinstance(config, Mapping) or motia is None or motia.__name__ != "steps.motia":
        return config
    from .adapter import is_motia_module
    from .stream_config import StreamConfig

    if not is_motia_module(module):
        return config
    try:
        return StreamConfig.model_validate(config)
    except pydantic.ValidationError as error:
        raise StreamConfigError(f"{module.__name__}: {error}") from None
