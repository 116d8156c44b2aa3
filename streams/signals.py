"""Signals of the streams app: a batch of changes before its commit, each event after it."""

from django.dispatch import Signal

# Sent by the store inside the transaction that makes stream changes, once per batch, with
# ``events``: the batch's StreamEvents in order (custom events included), each with its
# version, timestamp and frame as logged. Nothing is committed yet: a receiver that acts on
# the events waits for the commit (the broadcast defers to ``transaction.on_commit``).
stream_changed = Signal()

# Sent once a stream change (or custom event) is committed, with ``event``: a StreamEvent.
# The steps app listens to it to run stream-triggered steps. Sent for every event, always with
# the StreamEvent class as sender: its receivers are cached (as Django's model signals do),
# and connect and disconnect clear the cache.
stream_event = Signal(use_caching=True)
