"""A WebSocket client on a bare socket, for tests that need a client which stops reading.

Library clients read in the background; this one reads only when told to, so the server sees
a reader that has stalled. It speaks just enough of RFC 6455: the handshake, masked text
frames out (and the close frame that answers the server's), and unmasked frames in (text,
binary, close).
"""

import base64
import contextlib
import os
import socket
import struct
from dataclasses import dataclass

TEXT, BINARY, CLOSE = 0x1, 0x2, 0x8


@dataclass
class Frame:
    """A frame from the server: its opcode and payload."""

    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        if self.opcode != CLOSE or len(self.payload) < 2:
            return None
        return int(struct.unpack("!H", self.payload[:2])[0])


class RawWebSocket:
    """A client socket that completes the handshake and then reads only on demand."""

    def __init__(self, host: str, port: int, receive_buffer: int | None = None) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        if receive_buffer is not None:
            # A small kernel buffer makes the server feel the stall sooner.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                "GET / HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"handshake refused: {head!r}")

    def send_text(self, text: str | bytes) -> None:
        self._send(TEXT, text.encode() if isinstance(text, str) else text)

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        # Masking byte by byte is slow for megabytes: XOR the payload as one big integer.
        key = (mask * (length // 4 + 1))[:length]
        masked = int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")
        # The server may close while a large frame is on its way: reading tells why.
        with contextlib.suppress(OSError):
            self.sock.sendall(header + mask + masked.to_bytes(length, "big"))

    def read_all(self, timeout: float) -> list[Frame]:
        """Read until the server closes the connection (or ``timeout`` of silence). A close
        frame from the server is answered with one, as RFC 6455 has a client do: a server
        that waits for it (uvicorn) then closes the connection at once, not after its close
        timeout."""
        self.sock.settimeout(timeout)
        frames: list[Frame] = []
        answered = False
        while True:
            while (frame := self._next_frame()) is not None:
                frames.append(frame)
                if frame.opcode == CLOSE and not answered:
                    answered = True
                    self._send(CLOSE, frame.payload[:2])  # the server's code, echoed
            try:
                chunk = self.sock.recv(1 << 20)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            self.buffer += chunk
        while (frame := self._next_frame()) is not None:
            frames.append(frame)
        return frames

    def _next_frame(self) -> Frame | None:
        data = self.buffer
        if len(data) < 2:
            return None
        opcode, length, offset = data[0] & 0x0F, data[1] & 0x7F, 2
        if length == 126:
            (length,), offset = struct.unpack("!H", data[2:4]), 4
        elif length == 127:
            (length,), offset = struct.unpack("!Q", data[2:10]), 10
        if len(data) < offset + length:
            return None
        self.buffer = data[offset + length :]
        return Frame(opcode, data[offset : offset + length])

    def close(self) -> None:
        self.sock.close()
