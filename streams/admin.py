"""The Django admin for streams: browse groups and items, view and edit an item's JSON.

Every write goes through the Stream API (:mod:`streams.storage.store`), never a bare model save or
delete: an item edited here is validated against its stream's schema, gets the next
timestamp and version of its group, and is broadcast on commit like any other change.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import Count, QuerySet
from django.forms.fields import InvalidJSONInput
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from .definitions import StreamConfig, StreamValidationError, UnknownStreamError, registry
from .models import StreamGroup, StreamItem
from .storage import delete_item, prepare_item, set_item

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class _ItemCount(TypedDict):
        item_count: int

    # A group as the group admin lists it: counted items.
    CountedGroup = WithAnnotations[StreamGroup, _ItemCount]


def _stream_config(stream_name: str) -> StreamConfig:
    """The definition of a stream, for deleting its items. A stream no longer defined has
    no schema to check, and deleting only needs its name."""
    if stream_name in registry:
        return registry.get(stream_name)
    return StreamConfig(name=stream_name)


def _delete_items(items: QuerySet[StreamItem]) -> None:
    """Delete items one by one through the Stream API, so each delete is broadcast."""
    for item in items.select_related("group").order_by("group_id", "id"):
        delete_item(_stream_config(item.group.stream_name), item.group.group_id, item.item_id)


class PrettyJSONField(forms.JSONField):
    """A JSON form field shown indented, in a monospace textarea sized for reading."""

    widget = forms.Textarea(attrs={"rows": 20, "cols": 90, "style": "font-family: monospace"})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)


class StreamItemChangeForm(forms.ModelForm):
    """Edits an existing item's JSON; the data is validated against the item's stream."""

    # A declared field (Django's form metaclass takes it off the class), not BaseForm.data.
    data = PrettyJSONField(label="Data (JSON)")  # type: ignore[assignment]

    class Meta:
        model = StreamItem
        fields = ["data"]

    def item_key(self) -> tuple[str, str, str]:
        """``(stream name, group id, item id)`` of the item being edited."""
        group = self.instance.group
        return group.stream_name, group.group_id, self.instance.item_id

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean returns
        if "data" not in cleaned or self.errors:
            return cleaned
        stream_name, _group_id, item_id = self.item_key()
        try:
            config = registry.get(stream_name)
        except UnknownStreamError:
            self.add_error(None, f"Stream {stream_name!r} is not defined; its items are read-only.")
            return cleaned
        try:
            cleaned["data"] = prepare_item(config, item_id, cleaned["data"])
        except StreamValidationError as error:
            self.add_error("data", [_describe(e) for e in error.errors])
        return cleaned


class StreamItemAddForm(StreamItemChangeForm):
    """Creates an item: its stream (one of those defined), group id, item id and JSON."""

    stream = forms.ChoiceField(choices=lambda: [(name, name) for name in registry.names()])
    group_id = forms.CharField(label="Group id", max_length=255)

    class Meta:
        model = StreamItem
        fields = ["stream", "group_id", "item_id", "data"]

    def item_key(self) -> tuple[str, str, str]:
        cleaned = self.cleaned_data
        return cleaned["stream"], cleaned["group_id"], cleaned["item_id"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        stream_name, group_id, item_id = self.item_key()
        existing = StreamItem.objects.filter(
            group__stream_name=stream_name, group__group_id=group_id, item_id=item_id
        )
        if existing.exists():
            self.add_error("item_id", "This group already has an item with this id.")
        return cleaned


def json_escaped(text: str) -> str:
    """``text`` as it reads inside JSON written with ASCII only (``café`` -> ``caf\\u00e9``)."""
    return "".join(char if char.isascii() else json.dumps(char)[1:-1] for char in text)


def _describe(error: dict[str, Any]) -> str:
    """One schema error as text: ``description: Field required``."""
    where = ".".join(str(part) for part in error.get("loc", []))
    return f"{where}: {error['msg']}" if where else str(error["msg"])


@admin.register(StreamGroup)
class StreamGroupAdmin(admin.ModelAdmin):
    """Groups of every stream, read-only: they change through their items. Deleting a group
    deletes (and broadcasts) each of its items first."""

    list_display = ["stream_name", "group_id", "items_link", "version", "last_change"]
    list_filter = ["stream_name"]
    search_fields = ["group_id"]
    fields: ClassVar[tuple[str, ...]] = (
        "stream_name",
        "group_id",
        "items_link",
        "version",
        "last_timestamp",
        "last_change",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[CountedGroup]:
        groups: QuerySet[StreamGroup] = super().get_queryset(request)
        return groups.annotate(item_count=Count("items"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="items", ordering="item_count")
    def items_link(self, group: CountedGroup) -> str:
        url = reverse("admin:streams_streamitem_changelist")
        return format_html(
            '<a href="{}?group__id__exact={}">{}</a>', url, group.pk, group.item_count
        )

    @admin.display(description="last change", ordering="last_timestamp")
    def last_change(self, group: StreamGroup) -> datetime | None:
        if not group.last_timestamp:
            return None
        return datetime.fromtimestamp(group.last_timestamp / 1000, tz=UTC)

    def delete_model(self, request: HttpRequest, obj: StreamGroup) -> None:
        self.delete_queryset(request, StreamGroup.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[StreamGroup]) -> None:
        with transaction.atomic():
            # Lock the groups so that no write adds an item between the deletes.
            pks = list(queryset.values_list("pk", flat=True))
            groups = StreamGroup.objects.filter(pk__in=pks).order_by("pk").select_for_update()
            pks = list(groups.values_list("pk", flat=True))
            _delete_items(StreamItem.objects.filter(group__in=pks))
            StreamGroup.objects.filter(pk__in=pks).delete()


@admin.register(StreamItem)
class StreamItemAdmin(admin.ModelAdmin):
    """Items of every stream, filterable by stream and group, searchable by id and content.
    Saving validates the JSON against the stream's schema and writes it through the Stream
    API; deleting likewise."""

    form = StreamItemChangeForm
    add_form = StreamItemAddForm
    list_display = ["item_id", "stream", "group_key", "preview", "timestamp", "updated_at"]
    list_filter = ["group__stream_name", ("group", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["group"]
    # The item's JSON is searched as text (keys included): a cast and a LIKE, a full scan,
    # so the changelist does not count the whole table as well.
    search_fields = ["item_id", "group__group_id", "data"]
    search_help_text = "Finds items whose id, group id or JSON contains every word (any case)."
    show_full_result_count = False
    fields: ClassVar[tuple[str, ...]] = (
        "stream",
        "group_key",
        "item_id",
        "data",
        "timestamp",
        "version",
        "created_at",
        "updated_at",
    )
    add_fields = ("stream", "group_id", "item_id", "data")

    @admin.display(description="stream", ordering="group__stream_name")
    def stream(self, item: StreamItem) -> str:
        return item.group.stream_name

    @admin.display(description="group", ordering="group__group_id")
    def group_key(self, item: StreamItem) -> str:
        return item.group.group_id

    @admin.display(description="data")
    def preview(self, item: StreamItem) -> str:
        text = json.dumps(item.data, ensure_ascii=False, separators=(",", ":"))
        return Truncator(text).chars(80)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[StreamItem], search_term: str
    ) -> tuple[QuerySet[StreamItem], bool]:
        found, duplicates = super().get_search_results(request, queryset, search_term)
        stored = json_escaped(search_term)
        if stored != search_term:
            # SQLite keeps the JSON that Django writes, non-ASCII letters escaped.
            also, more_duplicates = super().get_search_results(request, queryset, stored)
            return found | also, duplicates or more_duplicates
        return found, duplicates

    def get_fields(self, request: HttpRequest, obj: StreamItem | None = None) -> tuple[str, ...]:
        return self.add_fields if obj is None else self.fields

    def get_readonly_fields(self, request: HttpRequest, obj: StreamItem | None = None) -> list[str]:
        if obj is None:
            return []
        return [name for name in self.fields if name != "data"]

    def get_form(
        self,
        request: HttpRequest,
        obj: StreamItem | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(
        self, request: HttpRequest, obj: StreamItem, form: StreamItemChangeForm, change: bool
    ) -> None:
        if change and not form.has_changed():
            return  # nothing to write, nothing to broadcast
        stream_name, group_id, item_id = form.item_key()
        data = form.cleaned_data["data"]
        set_item(registry.get(stream_name), group_id, item_id, data)
        obj.pk = StreamItem.objects.get(
            group__stream_name=stream_name, group__group_id=group_id, item_id=item_id
        ).pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: StreamItem) -> None:
        self.delete_queryset(request, StreamItem.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[StreamItem]) -> None:
        with transaction.atomic():
            _delete_items(queryset)
