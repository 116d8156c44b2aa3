"""The dashboard's URLs, for a project to include (``path("dashboard/", include(...))``):
the overview, the forms that run a step now, and the trace view (``traces/<trace id>/``)."""

from django.urls import path

from . import trace_views, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("run/queue/", views.run_queue, name="dashboard-run-queue"),
    path("run/cron/", views.run_cron, name="dashboard-run-cron"),
    path("traces/", trace_views.find_trace, name="dashboard-traces"),
    path("traces/<str:trace_id>/", trace_views.trace, name="dashboard-trace"),
]
