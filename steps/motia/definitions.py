"""A Motia step as the engine registers it: the engine's
:class:`~steps.definitions.step_registry.Step`, plus what only the Motia layer reads
(:class:`Plan`)."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..definitions import Step

TriggerKind = Literal["http", "queue", "cron", "stream", "state"]

STATE_TOPIC = "motia::state"
"""The topic of the queue trigger that stands for a Motia state trigger: state changes are
sent to the step through it (:mod:`steps.motia.state_triggers`)."""


@dataclass(frozen=True)
class Plan:
    """For each trigger of the step (by index in the engine's config): its Motia kind, the
    middleware of an http trigger, and the condition of a state trigger."""

    kinds: tuple[TriggerKind, ...]
    middleware: Mapping[int, tuple[Callable[..., Any], ...]] = field(default_factory=dict)
    state_conditions: Mapping[int, Callable[..., Any] | None] = field(default_factory=dict)


@dataclass(frozen=True)
class MotiaStep(Step):
    """A step defined by a Motia file: its handler adapts Motia's call shapes (see
    :mod:`steps.motia.adapter`)."""

    plan: Plan = field(default_factory=lambda: Plan(()))
