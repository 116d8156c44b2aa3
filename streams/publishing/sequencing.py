"""Putting a group's events back in version order, as pure logic.

Two writers commit one after the other (the group row lock orders them), but their on-commit
publishes can cross on the way. A group client must see a create before the update of the same
item, so each server process re-orders a group's events by version, waiting a short while for a
missing one before it gives up on it.
"""

from typing import Generic, TypeVar

T = TypeVar("T")


class GroupSequencer(Generic[T]):
    """Releases the events of one group in version order."""

    def __init__(self) -> None:
        self.next_version: int | None = None
        self._pending: dict[int, T] = {}

    @property
    def waiting(self) -> bool:
        """True while an event is held back waiting for an earlier one."""
        return bool(self._pending)

    def push(self, version: int, item: T) -> list[T]:
        """Take one event; return the events that are now ready, in order."""
        if self.next_version is None or version == self.next_version:
            ready = [item]
            self.next_version = version + 1
            while self.next_version in self._pending:
                ready.append(self._pending.pop(self.next_version))
                self.next_version += 1
            return ready
        if version < self.next_version:
            # Older than one already released (it came after the wait gave up): deliver it
            # anyway; clients drop it if a newer change of its item was already seen.
            return [item]
        self._pending[version] = item
        return []

    def gaps(self) -> set[int]:
        """The versions a :meth:`flush` now would skip: never seen, older than one held."""
        if not self._pending or self.next_version is None:
            return set()
        return set(range(self.next_version, max(self._pending))) - set(self._pending)

    def flush(self) -> list[T]:
        """Stop waiting: release every held event in order, skipping the gaps."""
        ready = [self._pending[v] for v in sorted(self._pending)]
        if self._pending:
            self.next_version = max(self._pending) + 1
        self._pending.clear()
        return ready
