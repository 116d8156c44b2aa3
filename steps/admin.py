"""Admin for step runs, dead letters (re-driven from here) and worker heartbeats; their trace
ids lead to the dashboard's trace view."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from .models import DeadLetter, StepRun, WorkerHeartbeat
from .records import CannotRedrive, RedriveStopped, redrive


def trace_link(trace_id: str) -> str:
    """The trace id as a link to its trace view (plain when the project serves no
    dashboard)."""
    try:
        url = reverse("dashboard-trace", args=[trace_id])
    except NoReverseMatch:
        return trace_id
    return format_html('<a class="trace-link" href="{}">{}</a>', url, trace_id)


@admin.register(StepRun)
class StepRunAdmin(admin.ModelAdmin):
    """Recent runs of queue, stream and cron steps, by step, status and trace id."""

    list_display = ("step_name", "kind", "status", "attempt", "trace", "worker", "started_at")
    list_filter = ("status", "kind", "step_name")
    search_fields = ("trace_id", "step_name", "task_id")
    date_hierarchy = "started_at"
    readonly_fields = ("trace",)

    @admin.display(description="trace", ordering="trace_id")
    def trace(self, run: StepRun) -> str:
        return trace_link(run.trace_id)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: StepRun | None = None) -> bool:
        return False


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    """Messages whose handler kept failing, with the error and traceback; re-drive sends
    them again."""

    list_display = ("step_name", "topic", "short_error", "attempts", "created_at", "redriven_at")
    list_filter = ("step_name", "kind", ("redriven_at", admin.EmptyFieldListFilter))
    search_fields = ("trace_id", "step_name", "topic", "error")
    readonly_fields = ["trace", *(field.name for field in DeadLetter._meta.fields)]
    actions = ["redrive_selected"]

    @admin.display(description="trace")
    def trace(self, letter: DeadLetter) -> str:
        return trace_link(letter.trace_id)

    @admin.display(description="error")
    def short_error(self, letter: DeadLetter) -> str:
        return letter.error[:100]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Re-drive the selected messages")
    def redrive_selected(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        try:
            count = redrive(list(queryset.order_by("id")))
        except (CannotRedrive, RedriveStopped) as error:
            self.message_user(request, f"Not re-driven: {error}.", messages.ERROR)
        else:
            self.message_user(request, f"Re-drove {count} message(s).", messages.SUCCESS)


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    """The workers that beat lately: which are alive, as ``GET /healthz`` sees them."""

    list_display = ("worker", "last_seen")
    search_fields = ("worker",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: WorkerHeartbeat | None = None
    ) -> bool:
        return False
