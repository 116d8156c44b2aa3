"""URLs: the admin, then every step's http trigger (with OpenAPI docs at /api/docs)."""

from django.contrib import admin
from django.urls import path

from steps.http import build_api
from steps.registry import registry as steps

api = build_api(steps)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", api.urls),
]
