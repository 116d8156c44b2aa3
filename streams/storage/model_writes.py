"""Items saved or deleted by plain ORM code, made changes of their group.

The Stream API writes in SQL and sends no model signal; ORM code that saves or deletes a
:class:`~streams.models.StreamItem` (``item.save()``, ``StreamItem.objects.create()``,
``item.delete()``, a queryset's or a group's ``delete()``) sends ``post_save`` or
``post_delete``, and each becomes a change applied by the store like any other
(:func:`streams.storage.store.apply_changes`): its group's next version and timestamp (written to
the row and to the instance), its frame in the replay log, its event broadcast on commit. Its data
is taken as the code saved it: checking it against the stream's schema is the Stream API's
job. ``QuerySet.update()`` and the bulk methods send no model signal and stay unannounced.
"""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver

from ..models import StreamItem
from ..publishing import current_trace_id
from . import sql
from .changes import Change, ChangeKind, Effect, ItemState
from .store import apply_changes


@receiver(pre_save, sender=StreamItem, dispatch_uid="streams.storage.model_writes.saving")
@receiver(pre_delete, sender=StreamItem, dispatch_uid="streams.storage.model_writes.deleting")
def lock_group(sender: type, instance: StreamItem, raw: bool = False, **_: Any) -> None:
    """Within a transaction, lock the item's group before its row is written: the Stream API
    locks groups before items, and the other order could deadlock with a batch (PostgreSQL)."""
    # (An item without a group fails its own save.)
    if not raw and instance.group_id is not None and transaction.get_connection().in_atomic_block:
        group = instance.group
        sql.lock_groups([(group.stream_name, group.group_id)], set())


@receiver(post_save, sender=StreamItem, dispatch_uid="streams.storage.model_writes.saved")
def item_saved(sender: type, instance: StreamItem, created: bool, raw: bool, **_: Any) -> None:
    if raw:  # loading fixtures is not a live change
        return
    _record(instance, "set", None if created else instance.data)


@receiver(post_delete, sender=StreamItem, dispatch_uid="streams.storage.model_writes.deleted")
def item_deleted(sender: type, instance: StreamItem, **_: Any) -> None:
    _record(instance, "delete", instance.data)


def _record(item: StreamItem, kind: ChangeKind, old: dict[str, Any] | None) -> None:
    """Apply what ORM code did to ``item`` as a change: the row is written already, so the
    store is told the item's state before it (``old``: None for a new item) instead of
    reading it."""
    group = item.group
    value = item.data if kind == "set" else None
    trace_id = current_trace_id.get()
    change = Change(kind, group.stream_name, group.group_id, item.item_id, value, trace_id)
    known = ItemState(item.pk, old)
    outcome = apply_changes([change], lambda groups, keys: {change.item_key: known})[0]
    if isinstance(outcome, Effect) and outcome.new is not None:
        item.timestamp, item.version = outcome.timestamp, outcome.version
