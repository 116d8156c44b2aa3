"""HTTP triggers: step endpoints on the event loop (:mod:`.asgi`), route shapes
(:mod:`.routes`), each trigger as a django-ninja route (:mod:`.endpoints`), what runs
for a request (:mod:`.chain`), the engine's answers (:mod:`.responses`), the OpenAPI
document (:mod:`.openapi`) and ``GET /healthz`` (:mod:`.health`).
"""

from typing import TYPE_CHECKING

from streams.runtime import LazyExports

if TYPE_CHECKING:
    from .asgi import HEALTH_URL_NAME, StepRouter
    from .endpoints import ApiRequest, build_api
    from .health import check_broker, healthz
    from .responses import ErrorBody, answering_other_methods
    from .routes import PATH_PARAM, RouteClaim, conflicts

__all__ = [
    "HEALTH_URL_NAME",
    "PATH_PARAM",
    "ApiRequest",
    "ErrorBody",
    "RouteClaim",
    "StepRouter",
    "answering_other_methods",
    "build_api",
    "check_broker",
    "conflicts",
    "healthz",
]

__getattr__ = LazyExports(
    __name__,
    {
        "asgi": ["HEALTH_URL_NAME", "StepRouter"],
        "endpoints": ["ApiRequest", "build_api"],
        "health": ["check_broker", "healthz"],
        "responses": ["ErrorBody", "answering_other_methods"],
        "routes": ["PATH_PARAM", "RouteClaim", "conflicts"],
    },
)
