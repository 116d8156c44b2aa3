"""WebSocket URL routes: the stream socket at ``/`` (as Motia serves it) and ``/streams/``."""

from django.urls import path

from .consumers import StreamConsumer

# Channels routes ASGI applications with Django's path(), whose stubs take views only.
websocket_urlpatterns = [
    path("", StreamConsumer.as_asgi()),  # type: ignore[arg-type]
    path("streams/", StreamConsumer.as_asgi()),  # type: ignore[arg-type]
]
