"""The registry of stream definitions, filled from the ``*_stream.py`` modules of the
installed apps.

A module whose stream cannot be registered (its ``config`` is missing or not valid, another
module took its name) does not stop the others: the registry keeps what went wrong in
:attr:`StreamRegistry.errors`, which the system checks report (:mod:`streams.checks`).
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from ..runtime import discover_module_names, import_definition
from .config import StreamConfig, StreamConfigError, StreamDefinition


class UnknownStreamError(LookupError):
    """No stream of that name is defined."""


@dataclass(frozen=True)
class LoadError:
    """A stream module the registry could not take, and why (``kind``: its config, or a name
    another module has)."""

    module: str
    message: str
    kind: Literal["config", "duplicate"] = "config"


# Read a module's ``config`` in another form: ``read(module, config)`` gives the config to
# register. The steps app reads the stream files written against Motia's API (their hooks
# then get Motia's arguments).
ConfigReader = Callable[[ModuleType, Any], Any]
config_readers: list[ConfigReader] = []


class DuplicateStreamError(StreamConfigError):
    """Two definitions of one stream name."""


class StreamRegistry:
    """Stream definitions by name, and the modules that could not be loaded (``errors``)."""

    def __init__(self) -> None:
        self._configs: dict[str, StreamConfig] = {}
        self._modules: dict[str, str] = {}
        # Streams that code uses without a definition (see provide).
        self._provided: set[str] = set()
        self.errors: list[LoadError] = []

    def register(self, config: StreamDefinition, module: str | None = None) -> StreamConfig:
        config = StreamConfig.from_value(config)
        existing = self._configs.get(config.name)
        if config.name in self._provided:  # a definition takes the place of a mere use
            self._provided.discard(config.name)
            existing = None
        if existing is not None and existing is not config:
            where = self._modules.get(config.name)
            raise DuplicateStreamError(
                f"stream {config.name!r} is defined twice"
                + (f": in {where} and {module}" if where and module else "")
            )
        self._configs[config.name] = config
        if module is not None:
            self._modules[config.name] = module
        return config

    def provide(self, config: StreamDefinition) -> StreamConfig:
        """The stream of ``config``'s name: the one defined, or ``config``, registered as a
        stream that code uses without defining it (Motia's ``Stream("name")``, a stream without
        a schema); a definition registered later takes its place."""
        config = StreamConfig.from_value(config)
        existing = self._configs.get(config.name)
        if existing is not None:
            return existing
        self._configs[config.name] = config
        self._provided.add(config.name)
        return config

    def unregister(self, name: str) -> None:
        self._configs.pop(name, None)
        self._provided.discard(name)

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
        """Register the ``config`` of every ``*_stream.py`` module of the installed apps."""
        self.load(discover_module_names("_stream.py"))

    def load(self, module_names: Iterable[str]) -> None:
        """Import each module and register its ``config``; keep in ``errors`` the modules that
        fail (loading a module again replaces what it left there). A module that raises
        anything but a :class:`StreamConfigError` has a bug: that error goes on up."""
        for name in module_names:
            self.errors = [e for e in self.errors if e.module != name]
            try:
                module = import_definition(name)
                if isinstance(module, str):  # it could not be imported, for a reason known
                    self.errors.append(LoadError(name, module))
                    continue
                config = getattr(module, "config", None)
                if config is None:
                    raise StreamConfigError(f"{name} defines no 'config'")
                for read in config_readers:
                    config = read(module, config)
                self.register(config, name)
            except DuplicateStreamError as error:
                self.errors.append(LoadError(name, str(error), "duplicate"))
            except StreamConfigError as error:
                self.errors.append(LoadError(name, str(error)))


registry = StreamRegistry()
