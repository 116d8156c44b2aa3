"""Per-group ordering of events by version."""

from streams.publishing.sequencing import GroupSequencer


def test_in_order_events_pass_straight_through() -> None:
    seq: GroupSequencer[str] = GroupSequencer()
    assert seq.push(4, "a") == ["a"]
    assert seq.push(5, "b") == ["b"]
    assert not seq.waiting


def test_a_gap_holds_later_events_until_it_is_filled() -> None:
    seq: GroupSequencer[str] = GroupSequencer()
    seq.push(1, "v1")
    assert seq.push(3, "v3") == []
    assert seq.push(4, "v4") == []
    assert seq.waiting
    assert seq.push(2, "v2") == ["v2", "v3", "v4"]
    assert not seq.waiting
    assert seq.push(5, "v5") == ["v5"]


def test_flush_gives_up_on_the_gap() -> None:
    seq: GroupSequencer[str] = GroupSequencer()
    seq.push(1, "v1")
    seq.push(4, "v4")
    seq.push(3, "v3")
    assert seq.flush() == ["v3", "v4"]
    assert seq.push(5, "v5") == ["v5"]
    assert seq.push(2, "late") == ["late"], "a late event is still delivered"


def test_gaps_are_the_versions_a_flush_skips() -> None:
    seq: GroupSequencer[str] = GroupSequencer()
    assert seq.gaps() == set()
    seq.push(1, "v1")
    seq.push(5, "v5")
    seq.push(3, "v3")
    assert seq.gaps() == {2, 4}
    seq.flush()
    assert seq.gaps() == set()
