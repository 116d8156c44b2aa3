"""The URLs of a project without the examples: the engine's dashboard and the admin only (no
``demo`` page, no step API), for ``test_pages.py``."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("dashboard/", include("steps.dashboard.urls")),
    path("admin/", admin.site.urls),
]
