"""The rules of answers in parts (:mod:`streams.sockets.paging`), without I/O."""

from streams.sockets.paging import MAX_LIMIT, MIN_LIMIT, Hold, largest_frame, next_limit


def frame(version: int, size: int = 10) -> dict[str, str]:
    return {"type": "websocket.send", "text": "x" * size}


def test_the_next_page_looks_at_a_quarter_more_rows_than_fitted_or_twice_as_many() -> None:
    assert next_limit(1000, 8, cut=True) == 11
    assert next_limit(1000, 0, cut=True) == MIN_LIMIT
    assert next_limit(16, 16, cut=False) == 32
    assert next_limit(4000, 4000, cut=False) == MAX_LIMIT


def test_the_largest_frame_is_a_whole_sync_and_an_item_and_an_eighth() -> None:
    assert largest_frame(16, 1, 2) == 16 + 2 + 2
    assert largest_frame(1, 8, 1) == 8 + 1 + 1


def test_a_hold_keeps_frames_in_order_within_its_bounds() -> None:
    hold = Hold(max_frames=3, max_bytes=25)
    assert hold.add(frame(4), "a", 4) and hold.add(frame(5), None, 5)
    assert not hold.add(frame(6), "b", 6), "25 bytes at most"
    assert (len(hold.frames), hold.bytes, hold.last_seen) == (2, 20, 6)
    hold.drop(6)
    assert (hold.frames, hold.bytes, hold.dropped_to) == ([], 0, 6)
    for version in (7, 8, 9):
        assert hold.add(frame(version, 1), None, version)
    assert not hold.add(frame(10, 1), None, 10), "three frames at most"
    assert [v for _, _, v in hold.take(up_to=8)] == [7, 8]
    assert (hold.bytes, [v for _, _, v in hold.take()]) == (1, [9])
    assert (hold.frames, hold.bytes, hold.last_seen) == ([], 0, 10)
