"""URLs: the example app's demo page, the engine's dashboard, the admin, the health check, then
every step's http trigger (with OpenAPI docs at /api/docs).

The demo page and the stream WebSocket share ``/``: ASGI routes by protocol (see asgi.py), so
only HTTP requests reach these patterns.
"""

from django.contrib import admin
from django.urls import include, path

from steps.asgi import STEP_URL_NAME_PREFIX
from steps.health import healthz
from steps.http import build_api
from steps.registry import registry as steps

api = build_api(steps)

urlpatterns = [
    path("", include("examples.urls")),
    path("dashboard/", include("steps.dashboard.urls")),
    path("admin/", admin.site.urls),
    # Named as a step route so that it is served as step endpoints are (steps/asgi.py), without
    # middleware: a load balancer calling a server by IP over plain HTTP gets the health, not
    # a refused Host or a redirect to HTTPS.
    path("healthz", healthz, name=f"{STEP_URL_NAME_PREFIX}healthz"),
    path("", api.urls),
]
