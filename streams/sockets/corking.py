"""One write per socket for the frames of one turn of the event loop.

Writing to a socket costs a system call (and a TCP segment, and a wake-up of the reader) per
write, whatever its size. When several events of a group reach the hub in one turn of the event
loop (the changes of one transaction, or of several that committed together), each socket that
gets them is written to once with all of them, at the end of the turn, instead of once per
frame: a TCP_CORK of one loop turn. Nothing waits longer than the rest of the turn.

Each hub (:mod:`streams.publishing.hub`, one per event loop) has a cork, which the sockets it
fans out to share. Only a group's frames written straight to a transport
(:mod:`streams.sockets.transports`) are held; a :class:`~streams.sockets.writer.SocketWriter`
writes what it holds before anything else.
"""

import asyncio
from typing import Protocol


class Holder(Protocol):
    """A socket's writer holding frames for the end of the turn."""

    def write_held(self) -> None:
        """Write what it holds, in one write."""


class LoopCork:
    """The writers of one event loop that hold frames, written once its current turn ends."""

    __slots__ = ("holders", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.holders: list[Holder] = []

    def hold(self, holder: Holder) -> None:
        """``holder`` started holding frames: have it write them at the end of the turn."""
        if not self.holders:
            # Runs after the callbacks already due in this turn: the rest of a fan-out, and
            # the other events delivered meanwhile.
            self.loop.call_soon(self.release)
        self.holders.append(holder)

    def release(self) -> None:
        holders, self.holders = self.holders, []
        for holder in holders:
            holder.write_held()
