"""The engine's URLs: a route for every http trigger of every step, the OpenAPI document
(``/api/openapi.json``, browsable at ``/api/docs``), ``GET /api/flows`` and the health check
``GET /healthz``.

A project includes them at the root of its URLs, where step paths mean what their triggers
say: ``path("", include("steps.urls"))``.
"""

from django.urls import path

from .asgi import STEP_URL_NAME_PREFIX
from .health import healthz
from .http import build_api
from .registry import registry

api = build_api(registry)

urlpatterns = [
    # Named as a step route so that it is served as step endpoints are (steps/asgi.py), without
    # middleware: a load balancer calling a server by IP over plain HTTP gets the health, not
    # a refused Host or a redirect to HTTPS.
    path("healthz", healthz, name=f"{STEP_URL_NAME_PREFIX}healthz"),
    path("", api.urls),
]
