"""A server's WebSocket frames as bytes on the wire (RFC 6455, section 5.2), as pure functions.

A stream event goes to every socket that watches its group. ASGI's ``send`` takes the frame's
text and has the server frame it again for each socket; where the server lets the engine write
to a socket itself (:func:`streams.sockets.transports.direct_writes`), the frame's bytes are made
once per event and the same bytes go to every socket. A server's frames are never masked, and
no extension is in use on a socket written to this way, so a frame is its header and payload.
"""

import struct
from typing import Any

# FIN set, and the opcode: a whole (unfragmented) text or binary message.
_TEXT = 0x81
_BINARY = 0x82


def frame_bytes(payload: bytes, opcode: int = _TEXT) -> bytes:
    """One whole, unmasked frame carrying ``payload``."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", opcode, size)
    elif size < 65536:
        header = struct.pack("!BBH", opcode, 126, size)
    else:
        header = struct.pack("!BBQ", opcode, 127, size)
    return header + payload


class TextMessage(dict[str, Any]):
    """A ``websocket.send`` message of a text frame (what ASGI's ``send`` takes), which keeps its
    wire bytes once made: the hub gives one to every socket of a group."""

    __slots__ = ("_wire",)

    def __init__(self, text: str) -> None:
        super().__init__(type="websocket.send", text=text)
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = frame_bytes(self["text"].encode())
        return self._wire


def wire_bytes(message: dict[str, Any]) -> bytes:
    """The frame of a ``websocket.send`` message, as the server would write it."""
    if isinstance(message, TextMessage):
        return message.wire
    text = message.get("text")
    if text is not None:
        return frame_bytes(text.encode())
    return frame_bytes(message.get("bytes") or b"", _BINARY)
