"""The dashboard's forms that run a step now and its trace view, server side (the browser tests
run them in Chromium): staff only, CSRF-protected, bad input refused in the form with nothing
sent, and one page that answers "what happened to my request"."""

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from steps.models import DeadLetter, StepRun, TraceEvent
from steps.records.runs import flush_runs
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)

DASHBOARD = reverse("dashboard")
RUN_QUEUE = reverse("dashboard-run-queue")
RUN_CRON = reverse("dashboard-run-cron")
SEARCH = reverse("dashboard-traces")
WAIT = 15.0


def trace_url(trace_id: str) -> str:
    return reverse("dashboard-trace", args=[trace_id])


def announce(text: str) -> dict[str, str]:
    """The queue form of AnnounceTodoChange (its second trigger), with ``text`` as data."""
    return {"step": "AnnounceTodoChange", "trigger": "1", "data": text}


def nothing_sent() -> bool:
    flush_runs()
    return not TraceEvent.objects.exists() and not StepRun.objects.exists()


def page_text(response: Any) -> str:
    """The page's text, tags and spacing dropped (what a reader sees, roughly)."""
    text = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", text).replace("&#x27;", "'").replace("&quot;", '"')


# --- the forms on the dashboard ------------------------------------------------------------------


def test_a_form_per_queue_step_with_its_schema_and_a_button_per_cron_step(
    admin_client: Client,
) -> None:
    page = admin_client.get(DASHBOARD).content.decode()
    form = re.search(
        r'<form class="card run-form"[^>]*data-step="StreamStepProcess".*?</form>', page, re.S
    )
    assert form is not None
    assert 'data-topic="step.process"' in form.group(0)
    textarea = re.search(r"<textarea[^>]*>(.*?)</textarea>", form.group(0), re.S)
    assert textarea is not None
    example = json.loads(textarea.group(1).replace("&quot;", '"'))
    assert example == {"traceId": "", "stepIndex": 0}  # made from the input schema
    assert "Input schema" in form.group(0) and "csrfmiddlewaretoken" in form.group(0)
    assert re.search(r'<form class="card run-cron"[^>]*data-step="CollectSystemMetrics"', page)


def test_the_forms_are_for_staff_only(client: Client) -> None:
    response = client.post(RUN_QUEUE, announce('{"message": "hi"}'))
    assert response.status_code == 302 and reverse("admin:login") in response["location"]
    client.force_login(User.objects.create_user("visitor", password="pw"))
    assert client.post(RUN_CRON, {"step": "CollectSystemMetrics"}).status_code == 302
    assert nothing_sent()


def test_the_forms_are_csrf_protected_and_post_only(admin_user: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(RUN_QUEUE, announce('{"message": "hi"}')).status_code == 403
    assert client.post(RUN_CRON, {"step": "CollectSystemMetrics"}).status_code == 403
    assert client.get(RUN_QUEUE).status_code == 405
    assert nothing_sent()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ('{"message": ', "invalid JSON: Expecting value: line 1 column 13"),
        ('{"text": "hi"}', "invalid message for topic 'todo.announce': message: Field required"),
    ],
)
def test_bad_input_is_shown_in_its_form_and_nothing_is_sent(
    admin_client: Client, data: str, problem: str
) -> None:
    response = admin_client.post(RUN_QUEUE, announce(data))
    assert response.status_code == 400
    (form,) = [f for f in response.context["queue_forms"] if f.error]
    assert (form.step_name, form.data) == ("AnnounceTodoChange", data)  # kept as typed
    assert problem in form.error
    assert problem in page_text(response)
    assert nothing_sent()


def test_a_step_that_is_not_there_is_refused(admin_client: Client) -> None:
    response = admin_client.post(RUN_QUEUE, {"step": "Gone", "trigger": "0", "data": "{}"})
    assert response.status_code == 400
    assert "no queue trigger 0 on a step named 'Gone'" in page_text(response)
    response = admin_client.post(RUN_CRON, {"step": "CreateTodo"})
    assert response.status_code == 400
    assert "step 'CreateTodo' has no cron trigger" in page_text(response)
    assert nothing_sent()


# --- sent: the run, and its trace ----------------------------------------------------------------


def sent_trace(response: Any) -> str:
    assert response.status_code == 302, response.content[:500]
    found = re.fullmatch(rf"{DASHBOARD}\?sent=([^#]+)#run", response["location"])
    assert found is not None, response["location"]
    return found.group(1)


def recorded(trace_id: str, status: str = "succeeded") -> StepRun:
    def done() -> StepRun | None:
        flush_runs()
        return StepRun.objects.filter(trace_id=trace_id, status=status).first()

    return eventually(done, f"a {status} run of trace {trace_id}", WAIT)


@pytest.mark.usefixtures("worker")
def test_a_sent_form_names_its_trace_and_the_trace_shows_what_it_caused(
    admin_client: Client,
) -> None:
    trace_id = sent_trace(admin_client.post(RUN_QUEUE, announce('{"message": "Hello"}')))
    notice = page_text(admin_client.get(f"{DASHBOARD}?sent={trace_id}"))
    assert f"Sent topic todo.announce to AnnounceTodoChange: trace {trace_id}" in notice
    run = recorded(trace_id)
    assert (run.step_name, run.kind) == ("AnnounceTodoChange", "queue")
    assert f'href="{trace_url(trace_id)}"' in admin_client.get(DASHBOARD).content.decode()

    response = admin_client.get(trace_url(trace_id))
    kinds = [entry.kind for entry in response.context["entries"]]
    assert kinds == ["enqueue", "run", "change"]
    text = page_text(response)
    assert "the dashboard (admin) enqueued todo.announce → AnnounceTodoChange" in text
    assert "AnnounceTodoChange: message of todo.announce succeeded attempt 0" in text
    # (the version counts the group's events, earlier tests' included)
    assert re.search(
        r"custom event to notifications / todos \(version \d+\) reached 0 sockets", text
    )
    assert '"message": "Hello"' in text  # the data sent, and the event the change carried


@pytest.mark.usefixtures("worker")
def test_a_cron_step_fired_from_the_dashboard(admin_client: Client) -> None:
    trace_id = sent_trace(admin_client.post(RUN_CRON, {"step": "CollectSystemMetrics"}))
    run = recorded(trace_id)
    assert run.kind == "cron"
    assert run.detail == {"expression": "*/15 * * * * *", "origin": "the dashboard (admin)"}
    text = page_text(admin_client.get(trace_url(trace_id)))
    assert "the dashboard (admin) fired CollectSystemMetrics (cron */15 * * * * *)" in text
    assert "update metrics / system-metrics" in text or "create metrics / system-metrics" in text


# --- the trace of an http request ----------------------------------------------------------------


def test_the_trace_of_a_request_from_its_x_trace_id_header(admin_client: Client) -> None:
    response = admin_client.post(
        "/todos", data=json.dumps({"description": "Traced"}), content_type="application/json"
    )
    trace_id, todo_id = response.headers["X-Trace-Id"], response.json()["todo"]["id"]
    flush_runs()
    page = admin_client.get(trace_url(trace_id))
    assert page.status_code == 200
    http, change, *_ = page.context["entries"]
    assert (http.kind, http.title, http.step_name) == ("http", "POST /todos → 201", "CreateTodo")
    assert [line.msg for line in http.log_lines] == ["Todo created and broadcast"]
    assert change.title == f"create todo / todos / {todo_id} (version 1)"
    assert json.loads(change.data_json)["description"] == "Traced"  # from the replay log
    text = page_text(page)
    # (then the stream-triggered AnnounceTodoChange, once it has run)
    assert re.search(r"POST /todos → 201 · [12] step runs? · [12] stream changes? reaching", text)
    # The page follows a trace that may still grow; its refresh asks for the timeline alone.
    assert 'data-live="true"' in page.content.decode()
    partial = admin_client.get(trace_url(trace_id), {"partial": "1"}).content.decode()
    assert '<section id="timeline"' in partial
    assert "<html" not in partial


def test_a_trace_with_retries_and_a_dead_letter(admin_client: Client) -> None:
    for attempt, status in ((0, "retrying"), (1, "failed")):
        StepRun.objects.create(
            step_name="Flaky",
            kind="queue",
            trace_id="trace-dead",
            attempt=attempt,
            status=status,
            error="RuntimeError: boom",
            detail={"topic": "work"},
        )
    letter = DeadLetter.objects.create(
        step_name="Flaky",
        kind="queue",
        topic="work",
        payload={"kind": "queue", "topic": "work", "data": {"n": 1}},
        trace_id="trace-dead",
        attempts=2,
        error="RuntimeError: boom",
    )
    response = admin_client.get(trace_url("trace-dead"))
    assert [e.kind for e in response.context["entries"]] == ["run", "run", "dead-letter"]
    text = page_text(response)
    assert "retrying attempt 0" in text and "failed attempt 1" in text
    assert "dead letter of Flaky after 2 attempt(s)" in text
    admin_link = reverse("admin:steps_deadletter_change", args=[letter.pk])
    assert f'href="{admin_link}"' in response.content.decode()


def test_the_trace_view_is_for_staff_only(client: Client) -> None:
    assert client.get(trace_url("any")).status_code == 302
    assert client.get(SEARCH, {"q": "any"}).status_code == 302


# --- finding a trace -----------------------------------------------------------------------------


@pytest.fixture
def traces() -> Callable[..., None]:
    def make(*ids: str) -> None:
        for trace_id in ids:
            StepRun.objects.create(step_name="S", kind="queue", trace_id=trace_id)

    return make


def test_a_search_opens_the_trace_of_the_id_or_of_its_only_match(
    admin_client: Client, traces: Callable[..., None]
) -> None:
    traces("abc-123", "abc-456", "zzz-9")
    assert admin_client.get(SEARCH, {"q": " abc-123 "})["location"] == trace_url("abc-123")
    assert admin_client.get(SEARCH, {"q": "zz"})["location"] == trace_url("zzz-9")
    # Not recorded (yet): its page says so, and follows it.
    assert admin_client.get(SEARCH, {"q": "new-one"})["location"] == trace_url("new-one")
    listed = admin_client.get(SEARCH, {"q": "abc"})
    assert listed.status_code == 200
    assert listed.context["matches"] == ["abc-123", "abc-456"]
    refused = admin_client.get(SEARCH, {"q": "not a trace"})
    assert refused.status_code == 400
    assert "A trace id is 1 to 128 letters" in page_text(refused)
    assert admin_client.get(SEARCH).status_code == 200  # the box alone


def test_every_page_of_the_dashboard_has_the_search_box(admin_client: Client) -> None:
    for path in (DASHBOARD, trace_url("t"), SEARCH):
        page = admin_client.get(path).content.decode()
        assert f'action="{SEARCH}"' in page and 'name="q"' in page


def test_runs_and_dead_letters_in_the_admin_link_to_their_trace(admin_client: Client) -> None:
    run = StepRun.objects.create(step_name="S", kind="queue", trace_id="trace-admin")
    letter = DeadLetter.objects.create(
        step_name="S", kind="queue", payload={}, trace_id="trace-admin", attempts=1, error="x"
    )
    link = f'href="{trace_url("trace-admin")}"'
    for path in (
        reverse("admin:steps_steprun_changelist"),
        reverse("admin:steps_steprun_change", args=[run.pk]),
        reverse("admin:steps_deadletter_change", args=[letter.pk]),
    ):
        assert link in admin_client.get(path).content.decode(), path
