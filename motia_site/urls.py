"""URLs: the example app's demo page, the dashboard, the admin, the health check, then every
step's http trigger (with OpenAPI docs at /api/docs).

The demo page and the stream WebSocket share ``/``: ASGI routes by protocol (see asgi.py), so
only HTTP requests reach these patterns.
"""

from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", include("examples.urls")),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("admin/", admin.site.urls),
    path("", include("steps.urls")),
]
