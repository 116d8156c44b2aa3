"""The engine's URLs beside a page of the project's own under a step route's path
(``/todos/archive/all/``), for ``test_step_routes.py``."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def archive(request: HttpRequest) -> HttpResponse:
    return HttpResponse("the archive")


urlpatterns = [
    path("todos/archive/all/", archive),
    path("", include("steps.urls")),
]
