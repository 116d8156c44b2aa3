"""The registry of steps, filled from the ``*_step.py`` modules of the installed apps.

A module whose step cannot be registered (its ``config`` does not parse, it has no
``handler``, another module took its name) does not stop the others: the registry keeps what
went wrong in :attr:`StepRegistry.errors`, which the system checks report
(:mod:`steps.checks`).
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from streams.discovery import discover_modules

from .config import ConfigProblem, StepConfig, StepConfigError


@dataclass(frozen=True)
class Step:
    config: StepConfig
    handler: Callable[..., Any]
    module: str

    @property
    def name(self) -> str:
        return self.config.name


@dataclass(frozen=True)
class LoadError:
    """A step module the registry could not take, and why."""

    module: str
    error: StepConfigError


def step_from_module(module: ModuleType) -> Step:
    raw = getattr(module, "config", None)
    handler = getattr(module, "handler", None)
    if raw is None or not callable(handler):
        raise StepConfigError(f"{module.__name__} must define 'config' and 'handler'")
    return Step(StepConfig.parse(raw), handler, module.__name__)


class StepRegistry:
    """Steps by name, and the modules that could not be loaded (``errors``)."""

    def __init__(self) -> None:
        self._steps: dict[str, Step] = {}
        self.errors: list[LoadError] = []

    def register(self, step: Step) -> Step:
        existing = self._steps.get(step.name)
        if existing is not None and existing.module != step.module:
            problem = f"step {step.name!r} is defined in {existing.module} and {step.module}"
            raise StepConfigError(ConfigProblem(problem, "duplicate"))
        self._steps[step.name] = step
        return step

    def unregister(self, name: str) -> None:
        self._steps.pop(name, None)

    def get(self, name: str) -> Step:
        return self._steps[name]

    def __contains__(self, name: object) -> bool:
        return name in self._steps

    def __iter__(self) -> Iterator[Step]:
        return iter(list(self._steps.values()))

    def __len__(self) -> int:
        return len(self._steps)

    def load(self, modules: Iterable[ModuleType]) -> None:
        """Register the step of each module; a module that fails is kept in ``errors``
        (loading a module again replaces what it left there)."""
        for module in modules:
            self.errors = [e for e in self.errors if e.module != module.__name__]
            try:
                self.register(step_from_module(module))
            except StepConfigError as error:
                self.errors.append(LoadError(module.__name__, error))

    def autodiscover(self) -> None:
        self.load(discover_modules("_step.py"))


registry = StepRegistry()
