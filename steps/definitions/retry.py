"""How a failing handler is retried: backoff, then a dead letter (pure).

The values come from a queue trigger's ``config`` (:class:`steps.definitions.config.QueueConfig`);
stream and cron steps get the defaults.
"""

from dataclasses import dataclass
from typing import Literal

BackoffType = Literal["exponential", "fixed"]


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` retries after the first run, waiting ``backoff_ms`` and, with
    exponential backoff, doubling (1 s, 2 s, 4 s by default); ``delay_seconds`` delays the
    first run of each message."""

    max_retries: int = 3
    backoff_ms: float = 1000
    backoff_type: BackoffType = "exponential"
    delay_seconds: float = 0

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait before retrying after run number ``attempt`` (0-based) failed."""
        factor = 2**attempt if self.backoff_type == "exponential" else 1
        return self.backoff_ms * factor / 1000
