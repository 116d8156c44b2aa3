"""Persistence of step runs and of messages that could not be handled (dead letters)."""

import json
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from django.db import models
from django.utils import timezone


class StepRun(models.Model):
    """One run of a step's handler: an HTTP request, or one attempt at a queue, stream or
    cron message."""

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        RETRYING = "retrying"
        FAILED = "failed"
        SKIPPED = "skipped"

    step_name = models.CharField(max_length=200, db_index=True)
    kind = models.CharField(max_length=20)
    trace_id = models.CharField(max_length=128, db_index=True)
    task_id = models.CharField(max_length=255, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    attempt = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    error = models.TextField(blank=True)
    # What the handler logged through ctx.logger: [{"time", "level", "msg", "fields"}].
    logs = models.JSONField(default=list, blank=True)
    # What started the run, for the trace view: an http request's method, path and status;
    # a message's topic; the stream change or cron expression that triggered it.
    detail = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.step_name} #{self.attempt} {self.status}"


class DeadLetter(models.Model):
    """A message whose handler failed on its last attempt, or whose input was invalid.

    Re-driving sends it again as a new message (``redriven_at`` records when)."""

    step_name = models.CharField(max_length=200, db_index=True)
    kind = models.CharField(max_length=20)
    topic = models.CharField(max_length=200, blank=True)
    payload = models.JSONField()
    trace_id = models.CharField(max_length=128, db_index=True)
    attempts = models.PositiveIntegerField()
    error = models.TextField()
    traceback = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    redriven_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.step_name}: {self.error[:60]}"


class TraceEvent(models.Model):
    """Something a trace caused besides its step runs and dead letters: a committed stream
    change, a message enqueued, or a cron step fired by hand (``manage.py run_cron``, the
    dashboard).

    Recorded off the handlers' path, in the run recorder's batches (:mod:`steps.records.traces`);
    the newest ``STEPS_TRACE_EVENTS_KEPT`` are kept."""

    class Kind(models.TextChoices):
        CHANGE = "change"
        ENQUEUE = "enqueue"
        CRON = "cron"

    trace_id = models.CharField(max_length=128, db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Milliseconds since the epoch and JSON text, not a DateTimeField and a JSONField: Django
    # prepares those at 5 and 4 microseconds a row, most of what a row of a batch costs.
    at_ms = models.BigIntegerField()
    # The step that enqueued, or the cron step fired; blank for a stream change.
    step_name = models.CharField(max_length=200, blank=True)
    # A change: stream, group, item, type, version. An enqueue: topic, steps, data (a
    # preview), origin. A cron fire: expression, origin.
    detail_json = models.TextField(default="{}")

    class Meta:
        ordering = ["at_ms", "id"]

    def __str__(self) -> str:
        return f"{self.kind} of {self.trace_id}"

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.at_ms / 1000, UTC)

    @cached_property
    def detail(self) -> dict[str, Any]:
        try:
            detail = json.loads(self.detail_json)
        except ValueError:
            return {}
        return detail if isinstance(detail, dict) else {}


class SocketReach(models.Model):
    """How many sockets of one server process a stream change was handed to.

    Counted by the hub as it fans the change out (:mod:`streams.publishing.reach`), recorded with
    the step runs; several processes each record their own. Keyed by the change's group and
    version (which name one change for good), not by trace: the socket side never sees the
    trace id."""

    stream_name = models.CharField(max_length=200)
    group_id = models.CharField(max_length=255)
    version = models.BigIntegerField()
    sockets = models.PositiveIntegerField()
    process = models.CharField(max_length=255)
    at_ms = models.BigIntegerField()  # as TraceEvent's

    class Meta:
        indexes = [
            models.Index(fields=["stream_name", "group_id", "version"], name="socket_reach_change")
        ]

    def __str__(self) -> str:
        return f"{self.stream_name} / {self.group_id} @ {self.version}: {self.sockets}"


class WorkerHeartbeat(models.Model):
    """The last sign of life of one worker process, recorded while it consumes tasks.

    In the database because every server reads it there, on any topology: it is the one store
    each process of a deployment shares. ``GET /healthz`` reads the newest (steps.http.health)."""

    # ``<celery hostname>/<pid>``: two workers named alike on one machine are still two.
    worker = models.CharField(max_length=255, unique=True)
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"{self.worker} at {self.last_seen:%Y-%m-%d %H:%M:%S}"
