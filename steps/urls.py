"""The engine's URLs: a route for every http trigger of every step, the OpenAPI document
(``/api/openapi.json``, browsable at ``/api/docs``), ``GET /api/flows`` and the health check
``GET /healthz``.

A project includes them at the root of its URLs, where step paths mean what their triggers
say: ``path("", include("steps.urls"))``.
"""

from django.urls import path

from .asgi import HEALTH_URL_NAME
from .health import healthz
from .http import build_api
from .registry import registry

api = build_api(registry)

urlpatterns = [
    # Served as step endpoints are (steps/asgi.py), without middleware and for any Host: a load
    # balancer calling a server by IP over plain HTTP gets the health, not a refused Host or a
    # redirect to HTTPS.
    path("healthz", healthz, name=HEALTH_URL_NAME),
    path("", api.urls),
]
