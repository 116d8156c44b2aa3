"""The frames of one turn of the event loop go to a socket in one write, in order.

A SocketWriter is driven as the hub drives it, with a recorder standing in for the server's
transport (the real servers are in tests/test_direct_writes.py), to see how its writes are cut.
"""

import asyncio
from typing import Any

import pytest

from streams.sockets.corking import LoopCork
from streams.sockets.framing import TextMessage, frame_bytes, wire_bytes
from streams.sockets.writer import SocketWriter


class RecordedTransport:
    """Direct writes that record each write, open unless told otherwise."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.open = True

    def ready(self) -> bool:
        return self.open

    def write(self, data: bytes) -> None:
        self.writes.append(data)


async def never_called(message: Any) -> None:
    raise AssertionError(f"the server's send was used for {message}")


@pytest.fixture
async def cork() -> LoopCork:
    """The running loop's cork, as its hub has one for all its sockets."""
    return LoopCork(asyncio.get_running_loop())


def writer_on(transport: RecordedTransport, cork: LoopCork) -> SocketWriter:
    """A writer of a socket of the hub, as a consumer sets it up."""
    writer = SocketWriter(never_called, lambda code, reason: None)
    writer.direct, writer.direct_known = transport, True
    writer.cork = cork
    return writer


async def next_turn() -> None:
    await asyncio.sleep(0)


async def test_a_group_s_frames_of_one_turn_go_out_in_one_write(cork: LoopCork) -> None:
    transport = RecordedTransport()
    writer = writer_on(transport, cork)
    frames = [TextMessage(f'{{"n":{n}}}') for n in range(3)]
    for frame in frames:
        writer.write(frame)
    assert transport.writes == []  # held to the end of the turn
    await next_turn()
    assert transport.writes == [b"".join(frame.wire for frame in frames)]


async def test_every_socket_of_a_turn_is_written_once(cork: LoopCork) -> None:
    transports = [RecordedTransport() for _ in range(3)]
    writers = [writer_on(transport, cork) for transport in transports]
    frames = [TextMessage(f'{{"n":{n}}}') for n in range(2)]
    for frame in frames:
        for writer in writers:
            writer.write(frame)
    await next_turn()
    for transport in transports:
        assert transport.writes == [frames[0].wire + frames[1].wire]


async def test_another_frame_goes_out_behind_the_held_ones(cork: LoopCork) -> None:
    transport = RecordedTransport()
    writer = writer_on(transport, cork)
    change = TextMessage('{"change":1}')
    answer = {"type": "websocket.send", "text": '{"answer":1}'}
    writer.write(change)
    writer.write(answer)  # an answer to a join: written at once, after what was held
    assert transport.writes == [change.wire, wire_bytes(answer)]
    await next_turn()
    assert transport.writes == [change.wire, frame_bytes(b'{"answer":1}')]


async def test_held_frames_of_a_socket_that_closed_are_dropped(cork: LoopCork) -> None:
    stopped, closing = RecordedTransport(), RecordedTransport()
    writers = [writer_on(stopped, cork), writer_on(closing, cork)]
    for writer in writers:
        writer.write(TextMessage('{"n":1}'))
    writers[0].stop()
    closing.open = False  # the connection went meanwhile
    await next_turn()
    assert stopped.writes == [] and closing.writes == []


async def test_a_turn_later_frames_are_held_again(cork: LoopCork) -> None:
    transport = RecordedTransport()
    writer = writer_on(transport, cork)
    first, second = TextMessage('{"n":1}'), TextMessage('{"n":2}')
    writer.write(first)
    await next_turn()
    writer.write(second)
    await next_turn()
    assert transport.writes == [first.wire, second.wire]
