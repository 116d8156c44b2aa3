"""From committed model changes to stream events.

``post_save``/``post_delete`` of a :class:`~streams.models.StreamItem` become a
:class:`~streams.events.StreamEvent` that is published on commit, so nothing is broadcast for
a transaction that rolls back. Admin edits and the Stream API take this same path.
"""

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .events import StreamEvent
from .models import StreamItem
from .signals import stream_event

logger = logging.getLogger("streams.broadcast")


def emit(event: StreamEvent) -> None:
    """Publish ``event`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: _deliver(event), robust=True)


def _deliver(event: StreamEvent) -> None:
    from .hub import publish

    publish(event)
    stream_event.send(sender=StreamEvent, event=event)


def _item_event(kind: str, item: StreamItem) -> StreamEvent:
    return StreamEvent(
        type=kind,  # type: ignore[arg-type]
        stream_name=item.group.stream_name,
        group_id=item.group.group_id,
        item_id=item.item_id,
        data=item.data,
        timestamp=item.timestamp,
        version=item.version,
    )


@receiver(post_save, sender=StreamItem, dispatch_uid="streams.broadcast.saved")
def item_saved(sender: type, instance: StreamItem, created: bool, raw: bool, **_: Any) -> None:
    if raw:  # loading fixtures is not a live change
        return
    emit(_item_event("create" if created else "update", instance))


@receiver(post_delete, sender=StreamItem, dispatch_uid="streams.broadcast.deleted")
def item_deleted(sender: type, instance: StreamItem, **_: Any) -> None:
    emit(_item_event("delete", instance))
