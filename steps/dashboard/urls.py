"""The dashboard's URL, for a project to include (``path("dashboard/", include(...))``)."""

from django.urls import path

from . import views

urlpatterns = [path("", views.dashboard, name="dashboard")]
