"""Signed stream tokens and the example authenticate_stream."""

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from examples.auth import authenticate_stream, token_from
from streams.sockets.auth import StreamAuthRequest
from streams.sockets.context import StreamContext
from streams.sockets.tokens import InvalidToken, issue_token, verify_token


def request(headers: dict[str, str] | None = None, **kw: Any) -> StreamAuthRequest:
    defaults: dict[str, Any] = {"query": {}, "path": "/", "client": None, "subprotocols": []}
    return StreamAuthRequest(headers=headers or {}, **{**defaults, **kw})


def test_tokens_round_trip_and_reject_tampering() -> None:
    token = issue_token("u1", "admin")
    assert verify_token(token) == {"id": "u1", "role": "admin"}
    # Usable as a WebSocket subprotocol: only HTTP token characters.
    assert re.fullmatch(r"[A-Za-z0-9._~-]+", token), token
    with pytest.raises(InvalidToken):
        verify_token(token[:-2] + "xx")
    with pytest.raises(InvalidToken):
        verify_token(token, max_age=-1)


def test_the_management_command_prints_a_valid_token() -> None:
    out = StringIO()
    call_command("stream_token", "u7", "--role", "viewer", stdout=out)
    assert verify_token(out.getvalue().strip()) == {"id": "u7", "role": "viewer"}


def test_token_is_taken_from_header_subprotocol_or_query() -> None:
    assert token_from(request({"authorization": "Bearer abc"})) == "abc"
    assert token_from(request(subprotocols=["Authorization", "def"])) == "def"
    assert token_from(request(query={"authToken": "ghi"})) == "ghi"
    assert token_from(request()) is None


async def test_example_authenticate_stream() -> None:
    ctx = StreamContext()
    good = await authenticate_stream(request(query={"authToken": issue_token("u1")}), ctx)
    assert good == {"unauthorized": False, "context": {"userId": "u1", "role": "user"}}
    assert await authenticate_stream(request(), ctx) == {"unauthorized": True}
    bad = await authenticate_stream(request({"authorization": "Bearer forged"}), ctx)
    assert bad == {"unauthorized": True}
