"""Step endpoints send Django's ``request_started`` and ``request_finished``: on the event loop
while only Django's own receivers listen, in a thread as Django's handler does as soon as
another receiver listens."""

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from channels.testing import HttpCommunicator
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_finished, request_started

from steps.http.asgi import StepHandler, StepRouter
from steps.http.request_signals import only_djangos_own

Seen = list[tuple[str, type, int]]


@pytest.fixture
def seen() -> Iterator[Seen]:
    """What a project's receivers of both signals saw: (signal, sender, thread)."""
    calls: Seen = []

    def started(sender: type, **_: Any) -> None:
        calls.append(("started", sender, threading.get_ident()))

    def finished(sender: type, **_: Any) -> None:
        calls.append(("finished", sender, threading.get_ident()))

    request_started.connect(started)
    request_finished.connect(finished)
    yield calls
    request_started.disconnect(started)
    request_finished.disconnect(finished)


async def get(path: str) -> tuple[int, bytes]:
    """A GET of ``path`` through the step router, as a server hands it over."""
    communicator = HttpCommunicator(
        StepRouter(ASGIHandler()), "GET", path, headers=[(b"host", b"127.0.0.1")]
    )
    response = await communicator.get_response(timeout=10)
    await asyncio.wait_for(communicator.future, 10)  # the request's end: request_finished
    return response["status"], response["body"]


def test_only_djangos_receivers_listen_by_default() -> None:
    assert only_djangos_own(request_started, StepHandler)
    assert only_djangos_own(request_finished, StepHandler)


def test_any_other_receiver_is_seen(seen: Seen) -> None:
    assert not only_djangos_own(request_started, StepHandler)
    assert not only_djangos_own(request_finished, StepHandler)


def test_a_receiver_for_another_sender_leaves_step_requests_alone() -> None:
    def on_pages(sender: type, **_: Any) -> None: ...

    request_started.connect(on_pages, sender=ASGIHandler)
    try:
        assert only_djangos_own(request_started, StepHandler)
        assert not only_djangos_own(request_started, ASGIHandler)
    finally:
        request_started.disconnect(on_pages, sender=ASGIHandler)


async def test_a_step_request_reaches_the_projects_receivers_in_a_thread(seen: Seen) -> None:
    status, _ = await get("/healthz?checks=channel_layer")
    assert status == 200
    assert [(name, sender) for name, sender, _ in seen] == [
        ("started", StepHandler),
        ("finished", StepHandler),
    ]
    # In a thread, as under Django's handler: a sync receiver may block or use the ORM.
    assert all(thread != threading.get_ident() for _, _, thread in seen)
