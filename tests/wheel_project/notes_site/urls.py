from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("dashboard/", include("steps.dashboard.urls")),
    path("", include("steps.urls")),
]
