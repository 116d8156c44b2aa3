"""ASGI entry point: Django for HTTP, the stream consumer for WebSocket."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "motia_site.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (needs Django set up)
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from steps.asgi import StepRouter  # noqa: E402
from steps.worker import start_embedded_worker  # noqa: E402
from streams.origins import OriginCheck  # noqa: E402
from streams.routing import websocket_urlpatterns  # noqa: E402

# With no broker configured, queue, stream and cron steps run in this process.
start_embedded_worker()

application = ProtocolTypeRouter(
    {
        # The pages' CSS and JavaScript (the stream client among them) are served under any
        # ASGI server, not only by runserver; a CDN or proxy can take them over at scale.
        # Step endpoints skip Django's middleware and per-request thread (steps/asgi.py).
        # (It wraps any ASGI application; its stubs ask for Django's handler.)
        "http": ASGIStaticFilesHandler(StepRouter(django_asgi_app)),  # type: ignore[arg-type]
        # Browser sockets only from pages of the allowed hosts (streams/origins.py). (The
        # stubs of URLRouter want patterns that Django's path() is never typed to make.)
        "websocket": OriginCheck(URLRouter(websocket_urlpatterns)),  # type: ignore[arg-type]
    }
)
