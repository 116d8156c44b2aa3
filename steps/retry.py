"""How a failing handler is retried: exponential backoff, then a dead letter (pure)."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config import StepConfigError


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` retries after the first run, waiting ``backoff_ms`` and doubling
    (1 s, 2 s, 4 s by default); ``delay_seconds`` delays the first run of each message."""

    max_retries: int = 3
    backoff_ms: int = 1000
    delay_seconds: float = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None, where: str = "trigger") -> "RetryPolicy":
        config = dict(config or {})
        known = {"max_retries", "backoff_ms", "delay_seconds"}
        unknown = set(config) - known
        if unknown:
            raise StepConfigError(f"{where}: unknown config keys {sorted(unknown)}")
        policy = cls(**config)
        for name in known:
            value = getattr(policy, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise StepConfigError(f"{where}: config {name!r} must be a number >= 0")
        if not isinstance(policy.max_retries, int):
            raise StepConfigError(f"{where}: config 'max_retries' must be a whole number")
        return policy

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait before retrying after run number ``attempt`` (0-based) failed."""
        seconds: float = self.backoff_ms * (2**attempt) / 1000  # (int ** int is Any to mypy)
        return seconds
