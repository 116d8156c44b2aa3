"""Persistence of streams: groups and their items."""

from django.db import models


class StreamGroup(models.Model):
    """A group of a stream. Its row is locked by every write to the group, which orders the
    group's changes: ``version`` counts them and ``last_timestamp`` is the newest frame time."""

    stream_name = models.CharField(max_length=200)
    group_id = models.CharField(max_length=255)
    version = models.BigIntegerField(default=0)
    last_timestamp = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["stream_name", "group_id"]
        constraints = [
            models.UniqueConstraint(fields=["stream_name", "group_id"], name="unique_stream_group")
        ]

    def __str__(self) -> str:
        return f"{self.stream_name} / {self.group_id}"


class StreamItem(models.Model):
    """One JSON item of a group. Rows are kept in insertion order (by primary key)."""

    group = models.ForeignKey(StreamGroup, on_delete=models.CASCADE, related_name="items")
    item_id = models.CharField(max_length=255)
    data = models.JSONField()
    # Time of the item's last change (ms); strictly increases per item (clients drop older).
    timestamp = models.BigIntegerField()
    # The group version at the item's last change.
    version = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "item_id"], name="unique_group_item")
        ]

    def __str__(self) -> str:
        return self.item_id


class StreamLogEntry(models.Model):
    """One frame of a group's replay log (:mod:`streams.storage.replay`): the frame of the change
    (or custom event) that took the group to ``version``, as it was sent.

    Keyed by the group's names, not by its row: a group deleted and made again continues its
    versions from here, so a client's last version never names a change of another life of
    the group.
    """

    stream_name = models.CharField(max_length=200)
    group_id = models.CharField(max_length=255)
    version = models.BigIntegerField()
    item_id = models.CharField(max_length=255, null=True)
    timestamp = models.BigIntegerField()
    frame = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stream_name", "group_id", "version"], name="unique_stream_log_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.stream_name} / {self.group_id} @ {self.version}"
