"""URLs: the demo page and the dashboard, the admin, then every step's http trigger (with
OpenAPI docs at /api/docs).

The demo page and the stream WebSocket share ``/``: ASGI routes by protocol (see asgi.py), so
only HTTP requests reach these patterns.
"""

from django.contrib import admin
from django.urls import path

from steps.http import build_api
from steps.registry import registry as steps

from . import views

api = build_api(steps)

urlpatterns = [
    path("", views.demo, name="demo"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("admin/", admin.site.urls),
    path("", api.urls),
]
