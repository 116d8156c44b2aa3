"""How many local sockets each stream event reached, for whoever records traces.

The hub reports, per event it fans out, the number of this process's sockets it handed the
frame to (:func:`reached`). Nothing is counted until a counter is set (the steps app sets one
that appends to its next batch of trace records): a call costs a global read when none is,
and the counter must be as cheap (it runs on the event loop, once per event, never per
socket).
"""

from collections.abc import Callable

# counter(stream_name, group_id, version, sockets)
Counter = Callable[[str, str, int, int], None]

_counter: Counter | None = None


def count_with(counter: Counter | None) -> None:
    """Send every count to ``counter`` from now on (None: count nothing)."""
    global _counter
    _counter = counter


def reached(key: tuple[str, str], version: int, sockets: int) -> None:
    """The event that took the group ``key`` to ``version`` was handed to ``sockets`` local
    sockets (events that reached none are not reported)."""
    counter = _counter
    if counter is not None and sockets:
        counter(key[0], key[1], version, sockets)
