"""Bounded waits: poll until something holds, and fail the test saying what never did.

``eventually`` polls a plain function from a test's thread; ``eventually_async`` polls from a
coroutine (the probe may be a plain function or return an awaitable), without blocking the
loop. Both return the probe's first true value.
"""

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeAlias, TypeVar, overload

import pytest

T = TypeVar("T")
# What a probe answers: a true value when the wait is over, else None or False.
Outcome: TypeAlias = T | Literal[False] | None
# What failed: a text, or a function that tells it when the wait is over (the last state seen).
What = str | Callable[[], str]


def _failure(what: What, timeout: float) -> str:
    return f"not within {timeout}s: {what() if callable(what) else what}"


def eventually(
    probe: Callable[[], Outcome[T]], what: What, timeout: float, interval: float = 0.1
) -> T:
    """Call ``probe()`` every ``interval`` s until it returns a true value (returned); fail the
    test with ``what`` if none came within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = probe()
        if outcome:
            return outcome
        if time.monotonic() > deadline:
            pytest.fail(_failure(what, timeout))
        time.sleep(interval)


@overload
async def eventually_async(
    probe: Callable[[], Awaitable[Outcome[T]]], what: What, timeout: float, interval: float = ...
) -> T: ...


@overload
async def eventually_async(
    probe: Callable[[], Outcome[T]], what: What, timeout: float, interval: float = ...
) -> T: ...


async def eventually_async(
    probe: Callable[[], object], what: What, timeout: float, interval: float = 0.05
) -> object:
    """``eventually`` in a coroutine: ``probe`` may be async too."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        outcome = probe()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return outcome
        if loop.time() > deadline:
            pytest.fail(_failure(what, timeout))
        await asyncio.sleep(interval)
