"""Steps for tests, built from a config as a ``*_step.py`` module would define it.

``build_step(handler, name=..., triggers=[...])`` parses the config as discovery does; its
module is ``tests.<name>``. A registry of a few built steps (``step_registry``) serves tests
that build an API of their own; the ``define_step`` fixture (``tests/conftest.py``) puts a
step in the project's registry for one test.
"""

from collections.abc import Callable
from typing import Any

from steps.definitions.config import StepConfig
from steps.definitions.step_registry import Step, StepRegistry


def nothing(input: Any, ctx: Any) -> None:
    """A handler for steps whose runs do not matter to the test."""


def build_step(handler: Callable[..., Any] = nothing, /, **config: Any) -> Step:
    """A step of this ``config`` (the keys of a step module's, snake_case or camelCase)."""
    parsed = StepConfig.parse(config)
    return Step(parsed, handler, f"tests.{parsed.name}")


def step_registry(*steps: Step) -> StepRegistry:
    """A registry of these steps only (not the project's)."""
    registry = StepRegistry()
    for step in steps:
        registry.register(step)
    return registry
