"""An outage of a service the engine hands things to (the channel layer, the broker, the
database), as its sender sees it: how long to wait before the next attempt, and when an outage
begins and ends, so that each is logged once, not once per attempt. Pure: the senders
(:mod:`streams.publishing.broadcast`, :mod:`steps.running.sending`, :mod:`steps.records.runs`) do
the waiting."""

from dataclasses import dataclass, field


@dataclass
class Outage:
    """One sender's view of its service. After each failed attempt call :meth:`failed`: the
    pause before the next attempt is ``first``, then doubles up to ``longest``. After an
    attempt that ends the outage call :meth:`succeeded`: the pause is ``first`` again."""

    first: float
    longest: float
    pause: float = field(init=False)
    failing: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.pause = self.first

    def failed(self) -> bool:
        """Count a failed attempt; True when it begins an outage."""
        if not self.failing:
            self.failing = True
            return True
        self.pause = min(self.pause * 2, self.longest)
        return False

    def succeeded(self) -> bool:
        """Count a successful attempt; True when it ends an outage."""
        ended, self.failing, self.pause = self.failing, False, self.first
        return ended
