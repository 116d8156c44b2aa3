"""The engine's URLs: a route for every http trigger of every step, the OpenAPI document
(``/api/openapi.json``, browsable at ``/api/docs``), ``GET /api/flows`` and the health check
``GET /healthz``.

A project includes them at the root of its URLs, where step paths mean what their triggers
say: ``path("", include("steps.urls"))``. ``/favicon.ico``, which browsers ask for on every
page that names no icon (the admin's), is the engine's icon unless the project routes it
first.

A method a route does not take is answered as the step routes answer it (JSON 405 with
``Allow``, ``HEAD`` as ``GET``, 204 to ``OPTIONS``), ``/api/flows`` included, whichever handler
serves the request (:func:`steps.http.responses.answering_other_methods`).
"""

from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import URLPattern, URLResolver, path

from .definitions import registry
from .http import HEALTH_URL_NAME, answering_other_methods, build_api, healthz

api = build_api(registry)


def _answering_other_methods(
    patterns: list[URLPattern | URLResolver],
) -> list[URLPattern | URLResolver]:
    return [
        URLPattern(p.pattern, answering_other_methods(p.callback), p.default_args, p.name)
        if isinstance(p, URLPattern)
        else p
        for p in patterns
    ]


api_patterns, api_app_name, api_namespace = api.urls


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """The engine's icon (its URL read when asked: a manifest storage has it after
    collectstatic)."""
    return HttpResponseRedirect(static("streams/pages/favicon.ico"))


urlpatterns = [
    # Served as step endpoints are (steps/asgi.py), without middleware and for any Host: a load
    # balancer calling a server by IP over plain HTTP gets the health, not a refused Host or a
    # redirect to HTTPS.
    path("healthz", healthz, name=HEALTH_URL_NAME),
    path("favicon.ico", favicon),
    path("", (_answering_other_methods(api_patterns), api_app_name, api_namespace)),
]
