"""The ASGI application of a project that uses the engine, in one call.

A project's ``asgi.py``::

    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

    from steps.application import get_asgi_application

    application = get_asgi_application()

HTTP goes to Django, step endpoints without middleware (:mod:`steps.http.asgi`), static files served
when ``django.contrib.staticfiles`` is installed; WebSocket connections at ``/`` and
``/streams/`` go to the stream consumer, behind the Host and Origin checks
(:mod:`streams.sockets.origins`). With no broker configured, the in-process Celery worker starts
(:mod:`steps.running.worker`); the ASGI lifespan's shutdown stops the engine's threads
(:mod:`streams.runtime.lifecycle`). A project that needs its own routing composes the same pieces
in its ``asgi.py``.
"""

from typing import Any

import django.core.asgi


def get_asgi_application() -> Any:
    """Set Django up, start the embedded worker if there is no broker, and return the
    protocol router."""
    django_app = django.core.asgi.get_asgi_application()

    # After Django is set up: these import models and read settings.
    from channels.routing import ProtocolTypeRouter
    from django.apps import apps
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from streams.routing import websocket_routes
    from streams.runtime import lifecycle
    from streams.sockets import OriginCheck

    from .http import StepRouter
    from .running import start_embedded_worker

    start_embedded_worker()
    http: Any = StepRouter(django_app)
    if apps.is_installed("django.contrib.staticfiles"):
        # The pages' CSS and JavaScript (the stream client among them) are served under any
        # ASGI server, not only by runserver; a CDN or proxy can take them over at scale.
        http = ASGIStaticFilesHandler(http)
    application = ProtocolTypeRouter(
        {
            "http": http,
            # Sockets only for the allowed hosts, browser sockets only from their pages.
            "websocket": OriginCheck(websocket_routes),
            # A server that shuts the application down stops the engine's threads in order.
            "lifespan": lifecycle.lifespan,
        }
    )
    # Under every server (daphne sends no lifespan): full collections that walked the loaded
    # application paused the server 30-94 ms every few seconds at 200 writes/s.
    lifecycle.tune_collector()
    return application
