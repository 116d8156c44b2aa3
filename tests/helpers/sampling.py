"""Sampling a measure in the background (a process's memory, a database's connections) while
a test's block runs; a process's memory."""

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def sampled(sample: Callable[[], T], every: float) -> Iterator[list[T]]:
    """Call ``sample()`` in a thread now and every ``every`` s until the block ends; yields the
    list of the values, which grows as they come."""
    values: list[T] = []
    stop = threading.Event()

    def run() -> None:
        while True:
            values.append(sample())
            if stop.wait(every):
                return

    sampler = threading.Thread(target=run, daemon=True)
    sampler.start()
    try:
        yield values
    finally:
        stop.set()
        sampler.join(10)


def rss(pid: int) -> int:
    """The resident memory of process ``pid``, in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")
