"""Signals of the streams app."""

from django.dispatch import Signal

# Sent once a stream change (or custom event) is committed, with ``event``: a StreamEvent.
# The steps app listens to it to run stream-triggered steps.
stream_event = Signal()
