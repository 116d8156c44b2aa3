"""The frames the engine writes to a socket itself are the frames a WebSocket server writes."""

import pytest
from websockets.frames import Frame, Opcode

from streams.sockets.framing import TextMessage, frame_bytes, wire_bytes


def server_frame(opcode: Opcode, payload: bytes) -> bytes:
    """The websockets library's own serialization of an unmasked, whole frame."""
    return Frame(opcode, payload).serialize(mask=False)


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70_000])
def test_text_frames_are_serialized_as_websockets_does(size: int) -> None:
    text = "é" * (size // 2) + "x" * (size % 2)  # multi-byte UTF-8: the length is of the bytes
    assert wire_bytes({"type": "websocket.send", "text": text}) == server_frame(
        Opcode.TEXT, text.encode()
    )


@pytest.mark.parametrize("size", [0, 125, 126, 65536])
def test_binary_frames_are_serialized_as_websockets_does(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert wire_bytes({"type": "websocket.send", "bytes": payload}) == server_frame(
        Opcode.BINARY, payload
    )


def test_a_text_message_is_framed_once_for_every_socket() -> None:
    message = TextMessage('{"streamName":"todo"}')
    assert message == {"type": "websocket.send", "text": '{"streamName":"todo"}'}
    first = wire_bytes(message)
    assert first == frame_bytes(b'{"streamName":"todo"}')
    assert wire_bytes(message) is first
