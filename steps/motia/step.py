"""Motia's ``step()``: a step's config and handler as one value, a :class:`StepDefinition`.

A module may expose its step as ``config`` and ``handler``, or as a ``StepDefinition`` of any
name: the registry takes the definitions made in the module itself (each remembers where it
was made, so that one imported from another module is not taken twice).
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .types import StepConfig

StepHandler = Callable[..., Any]


def caller_module(depth: int = 2) -> str:
    """The ``__name__`` of the module that called the caller (``depth`` frames up)."""
    try:
        name = sys._getframe(depth).f_globals.get("__name__", "")
    except ValueError:
        return ""
    return str(name)


def as_step_config(config: StepConfig | dict[str, Any]) -> StepConfig:
    return config if isinstance(config, StepConfig) else StepConfig.model_validate(config)


@dataclass
class StepDefinition:
    """A step: its ``config`` and its ``handler`` (and the module that made it)."""

    config: StepConfig
    handler: StepHandler
    module: str = field(default="", compare=False, repr=False)


class StepBuilder:
    """``step(config)``: completed by ``.handle(handler)``."""

    def __init__(self, config: StepConfig) -> None:
        self.config = config

    def handle(self, handler: StepHandler) -> StepDefinition:
        return StepDefinition(self.config, handler, caller_module())


def step(
    config: StepConfig | dict[str, Any], handler: StepHandler | None = None
) -> StepDefinition | StepBuilder:
    """``step(config, handler)``, or ``step(config).handle(handler)``."""
    config = as_step_config(config)
    if handler is None:
        return StepBuilder(config)
    return StepDefinition(config, handler, caller_module())
