"""Wire shapes of the stream protocol, as pure functions."""

import orjson
import pytest

from streams.publishing.events import StreamEvent
from streams.sockets import protocol
from streams.sockets.protocol import ProtocolError, Subscription, parse_client_frame


def test_parse_group_and_item_joins() -> None:
    group = parse_client_frame(
        '{"type":"join","data":{"streamName":"todo","groupId":"todos","subscriptionId":"s1"}}'
    )
    assert group.type == "join"
    assert group.subscription == Subscription("todo", "todos", None, "s1")
    assert group.subscription.is_group
    item = parse_client_frame(
        b'{"type":"leave","data":{"streamName":"todo","groupId":"g","id":"i1","subscriptionId":"s"}}'
    )
    assert item.type == "leave"
    assert item.subscription.id == "i1"
    explicit_null = parse_client_frame(
        '{"type":"join","data":{"streamName":"todo","groupId":"g","id":null}}'
    )
    assert explicit_null.subscription.is_group


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_frame"),
        ('{"type":"subscribe","data":{}}', "unknown_type"),
        ('{"type":"join"}', "invalid_frame"),
        ('{"type":"join","data":{"groupId":"g"}}', "invalid_frame"),
        ('{"type":"join","data":{"streamName":"s","groupId":""}}', "invalid_frame"),
        ('{"type":"join","data":{"streamName":"s","groupId":"g","id":5}}', "invalid_frame"),
    ],
)
def test_bad_frames_raise_with_a_code(text: str, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame(text)
    assert caught.value.code == code
    assert caught.value.message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"groupId": "a\x00b"}, "'data.groupId' must not contain the NUL character"),
        ({"groupId": "g" * 256}, "'data.groupId' is longer than 255 characters"),
        ({"groupId": "g", "id": "\x00"}, "'data.id' must not contain the NUL character"),
    ],
)
def test_keys_no_item_can_have_are_refused(data: dict[str, str], message: str) -> None:
    frame = orjson.dumps({"type": "join", "data": {"streamName": "todo", **data}})
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame(frame)
    assert (caught.value.code, caught.value.message) == ("invalid_frame", message)


def test_event_frames_match_the_motia_shape() -> None:
    event = StreamEvent("update", "todo", "todos", "t1", {"id": "t1", "x": 1}, 1000, 7)
    assert orjson.loads(event.frame) == {
        "type": "stream",
        "timestamp": 1000,
        "streamName": "todo",
        "groupId": "todos",
        "id": "t1",
        "version": 7,
        "event": {"type": "update", "data": {"id": "t1", "x": 1}},
    }
    custom = StreamEvent("event", "n", "g", None, {"type": "custom", "data": {"m": 1}}, 5, 1)
    assert orjson.loads(custom.frame)["event"] == {
        "type": "event",
        "event": {"type": "custom", "data": {"m": 1}},
    }
    assert orjson.loads(custom.frame)["id"] is None


def test_sync_unauthorized_and_error_frames() -> None:
    sub = Subscription("todo", "todos", "t1", "s1")
    sync = orjson.loads(protocol.sync_frame(sub, 9, None, 3))
    assert sync["id"] == "t1"
    assert sync["event"] == {"type": "sync", "data": None}
    assert sync["version"] == 3
    replayed = orjson.loads(protocol.replayed_frame(sub, 9, 4))
    assert (replayed["id"], replayed["version"], replayed["event"]) == (
        "t1",
        4,
        {"type": "replayed"},
    )
    refused = orjson.loads(protocol.unauthorized_frame(sub, 10))
    assert refused["event"] == {"type": "unauthorized"}
    assert refused["groupId"] == "todos"
    error = orjson.loads(protocol.error_frame("invalid_json", "bad", 11, sub))
    assert error["event"] == {"type": "error", "data": {"code": "invalid_json", "message": "bad"}}
    assert error["id"] is None, "an error frame never carries an item id"
    assert "version" not in error and "version" not in refused, "they change no group"


def test_the_joins_of_a_group_share_its_names() -> None:
    # Thousands of sockets of one group keep one string of each name, not one each.
    def joined(group: str) -> Subscription:
        frame = {"type": "join", "data": {"streamName": "to" + "do", "groupId": group}}
        return parse_client_frame(orjson.dumps(frame).decode()).subscription

    first, second = joined("".join(["to", "dos"])), joined("".join(["to", "dos"]))
    assert first.stream_name is second.stream_name
    assert first.group_id is second.group_id
    assert first == second
