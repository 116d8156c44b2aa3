"""Django's request signals for step endpoints, without a thread hop while only Django listens.

Django sends ``request_started`` before a request and ``request_finished`` after it (from
``HttpResponse.close``); under ASGI it runs their sync receivers in a thread, two thread hops
per request: a step endpoint spent more on them than on its view. The receivers Django itself
connects do the request thread's housekeeping (``reset_queries``, ``close_old_connections``,
``close_caches``, ``reset_urlconf``): on the event loop they find no database connection (a
step's queries run on the engine's database threads, which keep their own, see
:mod:`streams.runtime.db`) and at most close a cache client the handler opened, so while they
are the only receivers they are called right here, on the event loop. As soon as any other
receiver listens (the project's, a library's), both signals are sent as Django's handler sends
them, every receiver in its usual place.
"""

from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.core import signals
from django.core.cache import close_caches
from django.core.handlers.base import reset_urlconf
from django.db import close_old_connections, reset_queries
from django.dispatch import Signal
from django.http import HttpResponseBase

# What Django connects to the request signals for its own housekeeping.
DJANGOS_OWN: frozenset[Callable[..., Any]] = frozenset(
    {reset_queries, close_old_connections, close_caches, reset_urlconf}
)


def only_djangos_own(signal: Signal, sender: type) -> bool:
    """Whether every receiver ``signal`` has for ``sender`` is one of :data:`DJANGOS_OWN`."""
    # Django's own look-up (private), as Signal.send and asend make it: live receivers only.
    sync_receivers, async_receivers = signal._live_receivers(sender)
    return not async_receivers and all(receiver in DJANGOS_OWN for receiver in sync_receivers)


async def started(sender: type, scope: dict[str, Any]) -> None:
    """Send ``request_started`` for a request ``sender`` (the handler's class) serves."""
    if only_djangos_own(signals.request_started, sender):
        signals.request_started.send(sender=sender, scope=scope)
    else:
        await signals.request_started.asend(sender=sender, scope=scope)


async def finished(sender: type, response: HttpResponseBase | None) -> None:
    """Close ``response``, which sends ``request_finished`` (None: the request was cancelled
    before it had one, and the signal is sent alone, as Django does)."""
    inline = only_djangos_own(signals.request_finished, sender)
    if response is None:
        if inline:
            signals.request_finished.send(sender=sender)
        else:
            await signals.request_finished.asend(sender=sender)
    elif inline:
        response.close()  # a step's response holds no resource that closing waits on
    else:
        await sync_to_async(response.close)()
