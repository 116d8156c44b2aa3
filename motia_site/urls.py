"""URLs: the example app's demo page, the engine's dashboard, the admin, then the engine's
URLs: every step's http trigger, the OpenAPI docs at /api/docs and the health check.

The demo page and the stream WebSocket share ``/``: ASGI routes by protocol (see asgi.py), so
only HTTP requests reach these patterns.
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("examples.urls")),
    path("dashboard/", include("steps.dashboard.urls")),
    path("admin/", admin.site.urls),
    path("", include("steps.urls")),
]
