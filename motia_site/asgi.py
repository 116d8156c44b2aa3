"""ASGI entry point: Django for HTTP (step endpoints without middleware), the stream consumer
for WebSocket, and the in-process worker when no broker is configured."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "motia_site.settings")

from steps.application import get_asgi_application

application = get_asgi_application()
