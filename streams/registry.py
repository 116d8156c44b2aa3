"""The registry of stream definitions, filled from the project's ``*_stream.py`` modules."""

from collections.abc import Iterator, Mapping
from typing import Any

from .config import StreamConfig
from .discovery import discover_modules


class UnknownStreamError(LookupError):
    """No stream of that name is defined."""


class StreamRegistry:
    """Stream definitions by name."""

    def __init__(self) -> None:
        self._configs: dict[str, StreamConfig] = {}

    def register(self, config: StreamConfig | Mapping[str, Any]) -> StreamConfig:
        config = StreamConfig.from_value(config)
        existing = self._configs.get(config.name)
        if existing is not None and existing is not config:
            raise ValueError(f"stream {config.name!r} is defined twice")
        self._configs[config.name] = config
        return config

    def unregister(self, name: str) -> None:
        self._configs.pop(name, None)

    def get(self, name: str) -> StreamConfig:
        try:
            return self._configs[name]
        except KeyError:
            raise UnknownStreamError(f"unknown stream {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._configs

    def __iter__(self) -> Iterator[StreamConfig]:
        return iter(list(self._configs.values()))

    def names(self) -> list[str]:
        return sorted(self._configs)

    def autodiscover(self) -> None:
        """Register the ``config`` of every ``*_stream.py`` module of the project's apps."""
        for module in discover_modules("_stream.py"):
            config = getattr(module, "config", None)
            if config is None:
                raise ValueError(f"{module.__name__} defines no 'config'")
            self.register(config)


registry = StreamRegistry()
