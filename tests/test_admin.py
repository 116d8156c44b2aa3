"""The streams admin: browsing and filtering, JSON editing through the Stream API, broadcast."""

import html
import json
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse

from motia_site.asgi import application
from streams import StreamConfig
from streams.definitions.stream_registry import registry
from streams.models import StreamGroup, StreamItem
from streams.publishing.events import StreamEvent
from streams.storage.store import Stream, SyncStream

CHANGELIST = reverse("admin:streams_streamitem_changelist")
GROUP_CHANGELIST = reverse("admin:streams_streamgroup_changelist")
ADD = reverse("admin:streams_streamitem_add")


def todo(item_id: str, description: str) -> dict[str, Any]:
    return {"id": item_id, "description": description, "createdAt": "2025-01-01T00:00:00Z"}


def change_url(item: StreamItem) -> str:
    return reverse("admin:streams_streamitem_change", args=[item.pk])


def item(stream: str, group: str, item_id: str) -> StreamItem:
    return StreamItem.objects.select_related("group").get(
        group__stream_name=stream, group__group_id=group, item_id=item_id
    )


def shown(response: Any) -> set[str]:
    """Item ids (or group ids) on a changelist page."""
    results = response.context["cl"].result_list
    return {getattr(row, "item_id", None) or row.group_id for row in results}


@pytest.fixture
def todos() -> SyncStream:
    return SyncStream(registry.get("todo"))


@pytest.fixture
def sample(todos: SyncStream, define_stream: Callable[..., StreamConfig]) -> None:
    """todo/home: t1, t2; todo/work: t3; notes/home: n1."""
    todos.set("home", "t1", todo("t1", "Buy milk"))
    todos.set("home", "t2", todo("t2", "Walk the dog"))
    todos.set("work", "t3", todo("t3", "Write report"))
    SyncStream(define_stream("notes")).set("home", "n1", {"text": "hello"})


@pytest.mark.django_db
@pytest.mark.usefixtures("sample")
def test_item_changelist_filters_by_stream_and_group(admin_client: Client) -> None:
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert shown(response) == {"t1", "t2", "t3", "n1"}
    assert "Buy milk" in response.content.decode()  # the JSON preview

    assert shown(admin_client.get(CHANGELIST, {"group__stream_name": "notes"})) == {"n1"}
    assert shown(admin_client.get(CHANGELIST, {"group__stream_name": "todo"})) == {
        "t1",
        "t2",
        "t3",
    }
    home = StreamGroup.objects.get(stream_name="todo", group_id="home")
    assert shown(admin_client.get(CHANGELIST, {"group__id__exact": home.pk})) == {"t1", "t2"}
    assert shown(admin_client.get(CHANGELIST, {"q": "t3"})) == {"t3"}


@pytest.mark.django_db
@pytest.mark.usefixtures("sample")
@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("Walk", {"t2"}),  # a word of the item's JSON, in any case
        ("walk DOG", {"t2"}),  # every word, wherever it is
        ("walk milk", set()),
        ("work", {"t3"}),  # the group id
        ("crème", {"t4"}),  # stored escaped on SQLite, as it is on PostgreSQL
        ("hello", {"n1"}),
    ],
)
def test_item_search_finds_text_in_the_items(
    admin_client: Client, todos: SyncStream, query: str, found: set[str]
) -> None:
    todos.set("party", "t4", todo("t4", "Crème brûlée for the team"))
    response = admin_client.get(CHANGELIST, {"q": query})
    assert response.status_code == 200
    assert shown(response) == found


@pytest.mark.django_db
@pytest.mark.usefixtures("sample")
def test_group_changelist_filters_and_links_to_items(admin_client: Client) -> None:
    response = admin_client.get(GROUP_CHANGELIST)
    assert response.status_code == 200
    rows = {(g.stream_name, g.group_id): g for g in response.context["cl"].result_list}
    assert set(rows) == {("todo", "home"), ("todo", "work"), ("notes", "home")}
    home = rows["todo", "home"]
    assert home.item_count == 2
    assert f'href="{CHANGELIST}?group__id__exact={home.pk}"' in response.content.decode()

    assert shown(admin_client.get(GROUP_CHANGELIST, {"stream_name": "todo"})) == {"home", "work"}
    assert shown(admin_client.get(GROUP_CHANGELIST, {"q": "work"})) == {"work"}
    detail = admin_client.get(reverse("admin:streams_streamgroup_change", args=[home.pk]))
    assert detail.status_code == 200


@pytest.mark.django_db
@pytest.mark.usefixtures("sample")
def test_change_form_shows_the_json_indented(admin_client: Client) -> None:
    response = admin_client.get(change_url(item("todo", "home", "t1")))
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    # Indented, one field a line (PostgreSQL's jsonb does not keep the key order).
    assert '\n  "description": "Buy milk",\n' in page or '\n  "description": "Buy milk"\n}' in page
    assert '\n  "id": "t1"' in page
    assert response.context["adminform"].form.fields.keys() == {"data"}


@pytest.mark.django_db
@pytest.mark.usefixtures("sample")
def test_editing_valid_json_writes_through_the_engine(
    admin_client: Client, events: list[StreamEvent], django_capture_on_commit_callbacks: Any
) -> None:
    before = item("todo", "home", "t1")
    new = {**todo("t1", "Buy oat milk"), "dueDate": "2025-02-01"}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(change_url(before), {"data": json.dumps(new)})
    assert response.status_code == 302, response.context["adminform"].form.errors

    after = item("todo", "home", "t1")
    assert after.data == new
    assert after.timestamp > before.timestamp
    assert after.version > before.version
    assert after.group.version == after.version
    [event] = events
    assert (event.type, event.item_id, event.data) == ("update", "t1", new)
    assert event.timestamp == after.timestamp


@pytest.mark.django_db
@pytest.mark.usefixtures("sample")
@pytest.mark.parametrize(
    ("data", "error"),
    [
        (json.dumps({"id": "t1", "createdAt": "2025-01-01"}), "description: Field required"),
        ('{"id": "t1", "description": ', "Enter a valid JSON."),
        (json.dumps({**todo("other", "x")}), "id: must equal the item id 't1'"),
        ("[1, 2]", "an item must be a JSON object"),
    ],
)
def test_invalid_data_rerenders_the_form_and_changes_nothing(
    admin_client: Client, events: list[StreamEvent], data: str, error: str
) -> None:
    before = item("todo", "home", "t1")
    response = admin_client.post(change_url(before), {"data": data})
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert error in form.errors["data"]
    try:  # what was typed is kept (indented, when it is JSON)
        typed = json.dumps(json.loads(data), indent=2)
    except json.JSONDecodeError:
        typed = data
    assert typed in html.unescape(response.content.decode())

    after = item("todo", "home", "t1")
    assert (after.data, after.timestamp, after.version) == (
        before.data,
        before.timestamp,
        before.version,
    )
    assert events == []


@pytest.mark.django_db
@pytest.mark.usefixtures("sample")
def test_adding_an_item(admin_client: Client) -> None:
    page = admin_client.get(ADD)
    assert page.status_code == 200
    assert set(dict(page.context["adminform"].form.fields["stream"].choices)) == set(
        registry.names()
    )
    form = {
        "stream": "todo",
        "group_id": "garden",
        "item_id": "g1",
        "data": json.dumps({"description": "Water", "createdAt": "2025-01-01"}),
    }
    response = admin_client.post(ADD, form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    added = item("todo", "garden", "g1")
    assert added.data == {"id": "g1", "description": "Water", "createdAt": "2025-01-01"}
    assert added.timestamp > 0
    assert added.group.version == 1

    again = admin_client.post(ADD, {**form, "data": json.dumps(todo("g1", "Dig"))})
    assert (
        "This group already has an item with this id."
        in again.context["adminform"].form.errors["item_id"]
    )
    unknown = admin_client.post(ADD, {**form, "stream": "nope", "item_id": "g2"})
    assert "stream" in unknown.context["adminform"].form.errors
    invalid = admin_client.post(ADD, {**form, "item_id": "g3", "data": '{"id": "g3"}'})
    assert "description: Field required" in invalid.context["adminform"].form.errors["data"]
    assert not StreamItem.objects.filter(item_id__in=["g2", "g3"]).exists()
    assert item("todo", "garden", "g1").data["description"] == "Water"


@pytest.mark.django_db
@pytest.mark.usefixtures("sample")
def test_deleting_items_through_the_engine(
    admin_client: Client, events: list[StreamEvent], django_capture_on_commit_callbacks: Any
) -> None:
    t1 = item("todo", "home", "t1")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:streams_streamitem_delete", args=[t1.pk]), {"post": "yes"}
        )
    assert response.status_code == 302
    assert not StreamItem.objects.filter(pk=t1.pk).exists()
    [deleted] = events
    assert (deleted.type, deleted.item_id, deleted.data) == ("delete", "t1", t1.data)
    assert deleted.timestamp > t1.timestamp

    events.clear()
    selected = [item("todo", "home", "t2").pk, item("todo", "work", "t3").pk]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST,
            {"action": "delete_selected", "_selected_action": selected, "post": "yes"},
        )
    assert response.status_code == 302
    assert not StreamItem.objects.filter(pk__in=selected).exists()
    assert sorted((e.type, e.item_id) for e in events) == [("delete", "t2"), ("delete", "t3")]
    assert item("notes", "home", "n1")  # untouched


@pytest.mark.django_db
@pytest.mark.usefixtures("sample")
def test_deleting_a_group_deletes_its_items_one_by_one(
    admin_client: Client, events: list[StreamEvent], django_capture_on_commit_callbacks: Any
) -> None:
    home = StreamGroup.objects.get(stream_name="todo", group_id="home")
    last = home.last_timestamp
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:streams_streamgroup_delete", args=[home.pk]), {"post": "yes"}
        )
    assert response.status_code == 302
    assert not StreamGroup.objects.filter(pk=home.pk).exists()
    assert not StreamItem.objects.filter(group__stream_name="todo", group__group_id="home")
    assert [(e.type, e.item_id) for e in events] == [("delete", "t1"), ("delete", "t2")]
    assert last < events[0].timestamp < events[1].timestamp
    assert StreamGroup.objects.filter(stream_name="todo", group_id="work").exists()


@pytest.mark.django_db
def test_groups_cannot_be_added_or_edited(admin_client: Client, todos: SyncStream) -> None:
    todos.set("home", "t1", todo("t1", "Buy milk"))
    home = StreamGroup.objects.get(stream_name="todo", group_id="home")
    assert admin_client.get(reverse("admin:streams_streamgroup_add")).status_code == 403
    url = reverse("admin:streams_streamgroup_change", args=[home.pk])
    admin_client.post(url, {"stream_name": "other", "group_id": "renamed"})
    home.refresh_from_db()
    assert (home.stream_name, home.group_id) == ("todo", "home")


@pytest.mark.django_db(transaction=True)
async def test_admin_changes_are_broadcast(admin_client: Client) -> None:
    todos = Stream(registry.get("todo"))
    await todos.set("admin-live", "t1", todo("t1", "Buy milk"))
    comm = WebsocketCommunicator(application, "/")
    connected, _ = await comm.connect()
    assert connected
    try:
        join = {"streamName": "todo", "groupId": "admin-live", "subscriptionId": "s1"}
        await comm.send_json_to({"type": "join", "data": join})
        sync = await comm.receive_json_from(timeout=5)
        assert sync["event"]["type"] == "sync"

        t1 = await sync_to_async(item)("todo", "admin-live", "t1")
        edited = todo("t1", "Buy oat milk")
        post = sync_to_async(admin_client.post)
        response = await post(change_url(t1), {"data": json.dumps(edited)})
        assert response.status_code == 302
        update = await comm.receive_json_from(timeout=5)
        assert update["id"] == "t1"
        assert update["event"] == {"type": "update", "data": edited}
        assert update["timestamp"] > sync["timestamp"]

        added = todo("t2", "Walk the dog")
        form = {"stream": "todo", "group_id": "admin-live", "item_id": "t2"}
        response = await post(ADD, {**form, "data": json.dumps(added)})
        assert response.status_code == 302
        create = await comm.receive_json_from(timeout=5)
        assert create["event"] == {"type": "create", "data": added}
        assert create["timestamp"] > update["timestamp"]

        delete_url = reverse("admin:streams_streamitem_delete", args=[t1.pk])
        response = await post(delete_url, {"post": "yes"})
        assert response.status_code == 302
        delete = await comm.receive_json_from(timeout=5)
        assert (delete["id"], delete["event"]) == ("t1", {"type": "delete", "data": edited})
        assert delete["timestamp"] > create["timestamp"]
    finally:
        await comm.disconnect()
