"""The registry of steps, filled from the project's ``*_step.py`` modules."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from streams.discovery import discover_modules

from .config import StepConfig, StepConfigError


@dataclass(frozen=True)
class Step:
    config: StepConfig
    handler: Callable[..., Any]
    module: str

    @property
    def name(self) -> str:
        return self.config.name


def step_from_module(module: ModuleType) -> Step:
    raw = getattr(module, "config", None)
    handler = getattr(module, "handler", None)
    if raw is None or not callable(handler):
        raise StepConfigError(f"{module.__name__} must define 'config' and 'handler'")
    return Step(StepConfig.parse(raw), handler, module.__name__)


class StepRegistry:
    """Steps by name."""

    def __init__(self) -> None:
        self._steps: dict[str, Step] = {}

    def register(self, step: Step) -> Step:
        existing = self._steps.get(step.name)
        if existing is not None and existing.module != step.module:
            raise StepConfigError(
                f"step {step.name!r} is defined in {existing.module} and {step.module}"
            )
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

    def autodiscover(self) -> None:
        for module in discover_modules("_step.py"):
            self.register(step_from_module(module))


registry = StepRegistry()
