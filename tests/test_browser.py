"""Browser tests: the pages in Chromium (Debian's ``chromium``, headless), driven by Playwright,
against a real server (``tests/helpers/processes.py``) on a fresh database.

- two windows of the demo see each other's todo changes (add, complete, delete);
- the parallel merge's progress bar, driven by the ``parallelMerge`` stream, reaches 100%;
- a staff user logs in through the admin and the dashboard lists the example flows, a stream
  updating live, and the step runs of a merge with their logs.

Each test writes a screenshot of its page to ``test-artifacts/``. The pages may load nothing
but this server's own URLs (no CDN). With ``REDIS_URL`` set, queue steps run on a real
``celery`` worker process, as in production.
"""

import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect, sync_playwright

from tests.helpers.passes import embedded_pass_only, on_redis
from tests.helpers.processes import (
    PYTHON,
    ROOT,
    ServerProcess,
    TestDatabase,
    WorkerProcess,
    logs_on_failure,
    server_environment,
)
from tests.helpers.waiting import eventually

# What this file checks does not depend on the database or the channel layer: it runs once,
# in the embedded pass.
pytestmark = embedded_pass_only

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 860}
ARTIFACTS = ROOT / "test-artifacts"
STAFF_USER, STAFF_PASSWORD = "staff", "browser-test-password"
WAIT_MS = 15_000  # for any one expected change on a page
MERGE_WAIT_MS = 60_000  # a merge of 5 one-second steps, on however few worker threads

OpenPage = Callable[[str], Page]


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium; every context opened on it is a fresh profile (a new window)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `make test` installs Debian's chromium package"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def create_staff_user(database: TestDatabase) -> None:
    """A superuser in the server's database, made by ``manage.py createsuperuser``."""
    env = {**database.env, "DJANGO_SUPERUSER_PASSWORD": STAFF_PASSWORD}
    command = ["manage.py", "createsuperuser", "--noinput", "--username", STAFF_USER]
    subprocess.run(
        [PYTHON, *command, "--email", "staff@example.com"],
        cwd=ROOT,
        env=server_environment(env),
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server on a fresh database with a staff user; with ``REDIS_URL``, plus a worker."""
    with TestDatabase(tmp_path_factory.mktemp("browser")) as database:
        create_staff_user(database)
        env = database.own_queue if on_redis() else {}
        server = ServerProcess(database, env)
        worker = WorkerProcess(database, env) if env else None
        with server:
            if worker is None:
                yield server
            else:
                with worker:
                    yield server


@pytest.fixture
def page_problems() -> list[str]:
    """What went wrong on the test's pages (``open_page`` fails the test if any did): a test
    that expects one (a form refused with a 400) takes it off the list."""
    return []


@pytest.fixture
def open_page(
    request: pytest.FixtureRequest, browser: Browser, site: ServerProcess, page_problems: list[str]
) -> Iterator[OpenPage]:
    """``open_page(path)``: a page in a window of its own. Fails the test if a page raised,
    logged an error, or asked any other host than the server for anything."""
    contexts = []
    problems = page_problems

    def watch(page: Page) -> None:
        own = (site.http_url, site.ws_url.rstrip("/"), "data:")
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(f"console error: {message.text}")
                if message.type == "error" and "Failed to load resource" not in message.text
                else None
            ),
        )
        page.on(
            "request",
            lambda req: (
                None if req.url.startswith(own) else problems.append(f"external: {req.url}")
            ),
        )
        # A failed load is reported below with its URL (a favicon's included).
        page.on(
            "response",
            lambda response: (
                problems.append(f"{response.status}: {response.url}")
                if response.status >= 400
                else None
            ),
        )

    def open_(path: str) -> Page:
        context = browser.new_context(base_url=site.http_url, viewport=VIEWPORT)
        contexts.append(context)
        page = context.new_page()
        watch(page)
        page.goto(path)
        return page

    with logs_on_failure(request, [site]):
        yield open_
        for context in contexts:
            context.close()
    assert problems == []


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def wait_live(page: Page) -> None:
    """Wait until the page's stream client is connected."""
    expect(page.locator("#connection")).to_have_attribute(
        "data-state", "connected", timeout=WAIT_MS
    )


def wait_joined(demo: Page) -> None:
    """Wait until the demo page's todos group is joined: its first sync has drawn the count.
    (Connected is not enough: a change committed before the join is answered reaches the page
    in the join's sync, not as an event handed to its socket.)"""
    expect(demo.locator("#todo-count")).to_contain_text(" open · ", timeout=WAIT_MS)


def todo(page: Page, description: str) -> Locator:
    return page.locator("#todo-list li.todo", has_text=description)


def add_todo(page: Page, description: str) -> None:
    """Add a todo through the form; done when the POST succeeded (the form is cleared)."""
    field = page.locator("#todo-form input[name=description]")
    field.fill(description)
    page.click("#todo-form button[type=submit]")
    expect(field).to_have_value("", timeout=WAIT_MS)


# --- the demo -------------------------------------------------------------------------------


def test_two_windows_see_each_others_todo_changes(open_page: OpenPage) -> None:
    first, second = open_page("/"), open_page("/")
    for page in (first, second):
        wait_live(page)
        expect(page.locator("#todo-empty")).to_be_visible(timeout=WAIT_MS)

    add_todo(first, "Buy milk")
    add_todo(second, "Walk the dog")
    add_todo(first, "Write the report")
    for page in (first, second):
        expect(page.locator("#todo-list li.todo")).to_have_count(3, timeout=WAIT_MS)
        expect(page.locator("#todo-list .description")).to_have_text(
            ["Buy milk", "Walk the dog", "Write the report"]
        )

    todo(second, "Buy milk").locator("button.check").click()  # complete in one window ...
    expect(todo(first, "Buy milk")).to_have_class(re.compile(r"\bdone\b"), timeout=WAIT_MS)
    expect(todo(first, "Buy milk").locator("button.check")).to_be_disabled()

    todo(first, "Walk the dog").locator("button.delete").click()  # ... delete in the other
    for page in (first, second):
        expect(todo(page, "Walk the dog")).to_have_count(0, timeout=WAIT_MS)
        expect(page.locator("#todo-count")).to_have_text("1 open · 1 done", timeout=WAIT_MS)

    # Both windows watch the todos: the stream's on_join hooks counted them.
    expect(first.locator("#watching")).to_have_text(
        re.compile(r"^[2-9] watching$"), timeout=WAIT_MS
    )
    screenshot(first, "demo")


def test_the_merge_progress_bar_follows_the_stream_to_100_percent(
    open_page: OpenPage,
) -> None:
    page = open_page("/")
    wait_live(page)
    # Every value the bar takes, recorded in the page as it changes.
    page.evaluate(
        """() => {
            const bar = document.getElementById('merge-progress')
            window.progressSeen = []
            const record = () => window.progressSeen.push(Number(bar.getAttribute('aria-valuenow')))
            new MutationObserver(record).observe(bar, {attributeFilter: ['aria-valuenow']})
        }"""
    )
    page.fill("#merge-form input[name=totalSteps]", "5")
    page.click("#merge-form button[type=submit]")
    expect(page.locator("#merge-trace")).not_to_be_empty(timeout=WAIT_MS)

    progress = page.locator("#merge-progress")
    expect(progress).to_have_attribute("aria-valuenow", "100", timeout=MERGE_WAIT_MS)
    expect(progress).to_have_attribute("data-done", "true")
    expect(page.locator("#merge-status")).to_contain_text("All 5 steps complete")
    expect(page.locator("#merge-steps span.done")).to_have_count(5)
    # The bar itself fills its track (once its width transition is over).
    page.wait_for_function(
        """() => {
            const track = document.getElementById('merge-progress').getBoundingClientRect()
            const bar = document.querySelector('#merge-progress .bar').getBoundingClientRect()
            return track.width > 0 && Math.abs(track.width - bar.width) < 1
        }""",
        timeout=WAIT_MS,
    )

    seen = page.evaluate("() => window.progressSeen")
    assert seen == sorted(seen) and seen[-1] == 100, seen
    assert all(value % 20 == 0 for value in seen), seen  # whole steps of 5
    screenshot(page, "progress")


# --- the dashboard --------------------------------------------------------------------------


def log_in(page: Page) -> None:
    """Anonymous users are sent to the admin login; log in there as the staff user."""
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/dashboard/"))
    page.fill("input[name=username]", STAFF_USER)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


def wait_for_merge_runs(site: ServerProcess, page: Page) -> str:
    """Run a merge of 2 steps (the merge's trace id also the request's, so that its step runs
    carry it), then reload the dashboard until both its steps have run."""
    trace_id = f"browser-{uuid.uuid4().hex[:12]}"
    httpx.post(
        f"{site.http_url}/stream-parallel-merge",
        json={"traceId": trace_id, "totalSteps": 2},
        headers={"X-Trace-Id": trace_id},
    ).raise_for_status()
    done = page.locator(f'#runs tr[data-trace="{trace_id}"]', has_text="succeeded")

    def shown() -> bool:
        if done.count() >= 2:
            return True
        page.reload()
        return False

    eventually(shown, "the merge's step runs", MERGE_WAIT_MS / 1000, interval=0.5)
    return trace_id


def test_dashboard_lists_the_example_flows_streams_and_step_runs(
    open_page: OpenPage, site: ServerProcess
) -> None:
    page = open_page("/dashboard/")
    log_in(page)
    wait_live(page)

    # Flows, drawn as graphs: the example flows and the parallel merge's topic edge.
    for flow in ("todo", "stream-parallel-merge"):
        expect(page.locator(f'.flow[data-flow="{flow}"] svg.graph')).to_be_visible()
    merge = page.locator('.flow[data-flow="stream-parallel-merge"]')
    for step in ("StartStreamParallelMerge", "StreamStepProcess", "StreamMergeComplete"):
        expect(merge.locator(f'g.node[data-step="{step}"]')).to_be_visible()
    expect(merge.locator("text.edge-label")).to_have_text(["step.process"])
    for step in ("CreateTodo", "CompleteTodo", "DeleteTodo", "ListTodos"):
        expect(page.locator(f'.flow[data-flow="todo"] g.node[data-step="{step}"]')).to_be_visible()

    # Step runs with their trace id and logs (the runs of a merge made just now).
    trace_id = wait_for_merge_runs(site, page)
    wait_live(page)
    run = page.locator(f'#runs tr[data-trace="{trace_id}"]', has_text="StreamStepProcess").first
    expect(run.locator(".status")).to_have_text("succeeded")
    run.locator("details summary").click()
    expect(run.locator(".logs")).to_contain_text("Step completed")

    # Streams: every registered stream; `todo` is small, so it is watched whole and live.
    for stream in ("todo", "parallelMerge", "inbox"):
        expect(page.locator(f'.stream-card[data-stream="{stream}"]')).to_be_visible()
    todos = page.locator('.stream-card[data-stream="todo"]')
    httpx.post(f"{site.http_url}/todos", json={"description": "Seen on the dashboard"})
    expect(todos.locator('.watch[data-group="todos"]')).to_contain_text(
        "Seen on the dashboard", timeout=WAIT_MS
    )
    # A group asked for by name (already watched if the stream is small: then nothing changes).
    merges = page.locator('.stream-card[data-stream="parallelMerge"]')
    merges.locator(".watch-form input").fill("merge-groups")
    merges.locator(".watch-form button").click()
    watched = merges.locator('.watch[data-group="merge-groups"]')
    expect(watched).to_have_count(1)
    expect(watched.locator(f'tr[data-id="{trace_id}"]')).to_contain_text('"completedSteps":2')
    screenshot(page, "dashboard")


# --- the dashboard: running a step now, and traces -------------------------------------------


def sent_trace_id(page: Page) -> str:
    """The trace id the dashboard names once a form was sent."""
    expect(page).to_have_url(re.compile(r"/dashboard/\?sent="), timeout=WAIT_MS)
    link = page.locator(".sent-notice a.trace-link")
    expect(link).to_be_visible()
    return link.inner_text().strip()


def reload_until(page: Page, locator: Locator, what: str) -> None:
    """Reload the page until ``locator`` matches something (runs are recorded in batches)."""

    def shown() -> bool:
        if locator.count() > 0:
            return True
        page.reload()
        return False

    eventually(shown, what, WAIT_MS / 1000, interval=0.5)


def test_a_queue_step_run_from_its_dashboard_form_and_its_trace(open_page: OpenPage) -> None:
    page = open_page("/dashboard/")
    log_in(page)
    form = page.locator('form.run-form[data-step="AnnounceTodoChange"]')
    expect(form.locator("textarea")).to_have_value(re.compile(r'"message": ""'))  # the example
    form.locator("textarea").fill('{"message": "Sent from the browser"}')
    form.locator("button[type=submit]").click()

    trace_id = sent_trace_id(page)
    expect(page.locator(".sent-notice")).to_contain_text(
        "Sent topic todo.announce to AnnounceTodoChange"
    )
    run = page.locator(f'#runs tr[data-trace="{trace_id}"]', has_text="succeeded")
    reload_until(page, run, "the run of the message sent from the form")
    expect(run).to_contain_text("AnnounceTodoChange")

    run.locator("a.trace-link").click()
    expect(page).to_have_url(re.compile(rf"/dashboard/traces/{re.escape(trace_id)}/$"))
    timeline = page.locator("#timeline")
    expect(timeline.locator(".entry")).to_have_count(3, timeout=WAIT_MS)
    expect(timeline.locator(".entry-enqueue")).to_contain_text(
        "the dashboard (staff) enqueued todo.announce → AnnounceTodoChange"
    )
    expect(timeline.locator(".entry-run")).to_contain_text("succeeded")
    expect(timeline.locator(".entry-change")).to_contain_text(
        "custom event to notifications / todos"
    )
    timeline.locator(".entry-change details summary").click()
    expect(timeline.locator(".entry-change pre")).to_contain_text("Sent from the browser")
    screenshot(page, "trace-of-a-form")


def test_bad_input_in_a_dashboard_form_is_shown_there(
    open_page: OpenPage, page_problems: list[str]
) -> None:
    page = open_page("/dashboard/")
    log_in(page)
    form = page.locator('form.run-form[data-step="StreamStepProcess"]')
    form.locator("textarea").fill('{"traceId": "t", "stepIndex": "two"}')
    with page.expect_response(lambda r: r.url.endswith("/dashboard/run/queue/")) as answer:
        form.locator("button[type=submit]").click()
    assert answer.value.status == 400
    page_problems.remove(f"400: {answer.value.url}")  # expected: the form was refused
    refused = page.locator('form.run-form[data-step="StreamStepProcess"]')
    expect(refused.locator(".form-error")).to_contain_text("stepIndex: Input should be a valid")
    expect(refused.locator("textarea")).to_have_value('{"traceId": "t", "stepIndex": "two"}')
    expect(page.locator(".sent-notice")).to_have_count(0)


def test_a_cron_step_fired_from_the_dashboard_and_followed_on_its_trace(
    open_page: OpenPage,
) -> None:
    page = open_page("/dashboard/")
    log_in(page)
    page.locator('form.run-cron[data-step="CollectSystemMetrics"] button').click()
    trace_id = sent_trace_id(page)
    page.locator(".sent-notice a.trace-link").click()
    expect(page).to_have_url(re.compile(rf"/dashboard/traces/{re.escape(trace_id)}/$"))
    # The page follows the trace: the run and its change arrive without a reload.
    timeline = page.locator("#timeline")
    expect(timeline.locator(".entry-cron")).to_contain_text(
        "the dashboard (staff) fired CollectSystemMetrics"
    )
    expect(timeline.locator(".entry-run .status")).to_have_text("succeeded", timeout=WAIT_MS)
    expect(timeline.locator(".entry-change")).to_contain_text("metrics / system-metrics")


def test_the_trace_of_a_request_found_from_its_x_trace_id_header(
    open_page: OpenPage, site: ServerProcess
) -> None:
    demo = open_page("/")  # a window watching the todos: a socket the change reaches
    wait_live(demo)
    wait_joined(demo)
    response = httpx.post(f"{site.http_url}/todos", json={"description": "Where did it go?"})
    response.raise_for_status()
    trace_id, todo_id = response.headers["x-trace-id"], response.json()["todo"]["id"]
    expect(todo(demo, "Where did it go?")).to_be_visible(timeout=WAIT_MS)

    page = open_page("/dashboard/")
    log_in(page)
    page.fill(".trace-search input[name=q]", trace_id)
    page.click(".trace-search button[type=submit]")
    expect(page).to_have_url(re.compile(rf"/dashboard/traces/{re.escape(trace_id)}/$"))
    timeline = page.locator("#timeline")
    expect(timeline.locator(".entry-http")).to_contain_text("CreateTodo POST /todos → 201")
    expect(timeline.locator(".entry-http .logs")).to_contain_text("Todo created and broadcast")
    created = timeline.locator(".entry-change", has_text=f"create todo / todos / {todo_id}")
    expect(created).to_contain_text(re.compile(r"reached [1-9]\d* sockets?"), timeout=WAIT_MS)
    # The stream-triggered step it caused, under the same trace.
    expect(timeline.locator(".entry-run", has_text="AnnounceTodoChange")).to_contain_text(
        "succeeded", timeout=WAIT_MS
    )
    screenshot(page, "trace-of-a-request")
