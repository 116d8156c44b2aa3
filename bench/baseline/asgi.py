"""ASGI entry point of the bare Django baseline (``python -m uvicorn baseline.asgi:application``
from bench/)."""

import os

from django.core.asgi import get_asgi_application

# Its own settings, whatever the caller's environment says.
os.environ["DJANGO_SETTINGS_MODULE"] = "baseline.settings"
application = get_asgi_application()

from baseline.views import EXECUTOR, create_table  # noqa: E402  (needs Django set up)

# uvicorn imports this inside its event loop, where Django refuses queries: create the table
# on the view's own thread, which then keeps the connection.
EXECUTOR.submit(create_table).result(timeout=60)
