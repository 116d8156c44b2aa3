"""The registry of steps, filled from the ``*_step.py`` modules of the installed apps.

A module whose step cannot be registered (its ``config`` does not parse, it has no
``handler``, another module took its name) does not stop the others: the registry keeps what
went wrong in :attr:`StepRegistry.errors`, which the system checks report
(:mod:`steps.checks`).
"""

import itertools
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar, cast

from streams.runtime import discover_module_names, import_definition

from .config import ConfigProblem, StepConfig, StepConfigError


@dataclass(frozen=True)
class Step:
    """A step: its config, its handler and the module that defines it. ``raw_body``: its
    http triggers take bodies of any content type, not JSON only (the handler reads them).
    ``check_responses``: its answers are checked against its ``response_schema`` (with
    ``STEPS_VALIDATE_RESPONSES``); Motia's steps declare one to document their endpoints only."""

    config: StepConfig
    handler: Callable[..., Any]
    module: str
    raw_body: bool = False
    check_responses: bool = True

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


def steps_from_module(module: ModuleType) -> list[Step]:
    """The steps a module defines: its ``config`` and ``handler``; or, for a module written
    against Motia's API (it imported ``motia``), each of its steps, translated by the Motia
    layer (:mod:`steps.motia.adapter`)."""
    motia = sys.modules.get("motia")
    if motia is not None and motia.__name__ == "steps.motia":  # some module imported it
        from ..motia.adapter import is_motia_module
        from ..motia.checks import load_motia_steps

        if is_motia_module(module):
            return list(load_motia_steps(module))
    return [step_from_module(module)]


T = TypeVar("T")

# Every change of any registry takes the next number: one never seen before, so a value
# derived from the steps is current only if no change came since it was built.
_generations = itertools.count()


class StepRegistry:
    """Steps by name, and the modules that could not be loaded (``errors``)."""

    def __init__(self) -> None:
        self._steps: dict[str, Step] = {}
        self.errors: list[LoadError] = []
        self._generation = next(_generations)
        # What derived() built, by builder: (the generation it was built at, the value).
        self._derived: dict[Callable[..., Any], tuple[int, Any]] = {}

    def register(self, step: Step) -> Step:
        existing = self._steps.get(step.name)
        if existing is not None and existing.module != step.module:
            problem = f"step {step.name!r} is defined in {existing.module} and {step.module}"
            raise StepConfigError(ConfigProblem(problem, "duplicate"))
        self._steps[step.name] = step
        self._generation = next(_generations)  # after the change: see derived()
        return step

    def unregister(self, name: str) -> None:
        self._steps.pop(name, None)
        self._generation = next(_generations)

    def derived(self, build: Callable[[list[Step]], T]) -> T:
        """What ``build`` makes of the steps (in registration order), kept until they change:
        an index that the hot path reads instead of walking every step. ``load`` and
        ``autodiscover`` change the steps through ``register``."""
        # The generation is read before the steps: a change made meanwhile moves it on after
        # its own write, so a value built from a stale list is never taken for current.
        generation = self._generation
        kept = self._derived.get(build)
        if kept is not None and kept[0] == generation:
            return cast(T, kept[1])
        value = build(list(self._steps.values()))
        self._derived[build] = (generation, value)
        return value

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
                for step in steps_from_module(module):
                    self.register(step)
            except StepConfigError as error:
                self.errors.append(LoadError(module.__name__, error))

    def autodiscover(self) -> None:
        """Import and load the ``*_step.py`` modules of the installed apps; one whose import
        fails for a reason the discovery knows (``streams.runtime.discovery.import_explainers``) is
        kept in ``errors``."""
        for name in discover_module_names("_step.py"):
            module = import_definition(name)
            if isinstance(module, str):
                self.errors = [e for e in self.errors if e.module != name]
                self.errors.append(LoadError(name, StepConfigError(module)))
            else:
                self.load([module])


registry = StepRegistry()
