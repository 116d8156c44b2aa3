"""WebSocket URL routes: the stream socket at ``/`` (as Motia serves it) and ``/streams/``."""

from django.urls import path

from .consumers import StreamConsumer

websocket_urlpatterns = [
    path("", StreamConsumer.as_asgi()),
    path("streams/", StreamConsumer.as_asgi()),
]
