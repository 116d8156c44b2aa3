"""The shared outage rule of the senders (streams.runtime.service_outage): pauses and the start and
end of an outage."""

from streams.runtime.service_outage import Outage


def test_the_pause_doubles_from_the_first_failure_up_to_the_longest() -> None:
    outage = Outage(first=0.5, longest=3.0)
    pauses = []
    for _ in range(5):
        outage.failed()
        pauses.append(outage.pause)
    assert pauses == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_an_outage_begins_and_ends_once() -> None:
    outage = Outage(first=1.0, longest=8.0)
    assert outage.succeeded() is False  # no outage to end
    assert [outage.failed() for _ in range(3)] == [True, False, False]
    assert outage.failing
    assert outage.succeeded() is True
    assert (outage.failing, outage.pause) == (False, 1.0)
    assert outage.failed() is True  # the next failure begins a new one
