"""Motia's trigger helpers: ``http``, ``api`` (its old name), ``queue``, ``cron``, ``state``
and ``stream``, each giving the trigger's config."""

import warnings
from typing import Any

from .types import (
    ApiRouteMethod,
    ApiTrigger,
    CronTrigger,
    QueueTrigger,
    TriggerCondition,
    state,
    stream,
)

__all__ = ["api", "cron", "http", "queue", "state", "stream"]


def http(
    method: ApiRouteMethod,
    path: str,
    *,
    body_schema: Any | None = None,
    response_schema: dict[int, Any] | None = None,
    query_params: list[Any] | None = None,
    middleware: list[Any] | None = None,
    condition: TriggerCondition | None = None,
) -> ApiTrigger:
    """An http trigger: ``path`` with ``:name`` parameters; ``condition(request, ctx)``
    false answers 422; ``middleware(request, ctx, next)`` wrap the handler."""
    return ApiTrigger(
        method=method,
        path=path,
        body_schema=body_schema,
        response_schema=response_schema,
        query_params=query_params,
        middleware=middleware,
        condition=condition,
    )


def api(method: ApiRouteMethod, path: str, **options: Any) -> ApiTrigger:
    """``http`` under its old name (deprecated, as in Motia)."""
    warnings.warn("api() is deprecated, use http() instead", DeprecationWarning, stacklevel=2)
    return http(method, path, **options)


def queue(
    topic: str,
    *,
    input: Any | None = None,
    config: Any | None = None,
    condition: TriggerCondition | None = None,
) -> QueueTrigger:
    """A queue trigger on ``topic``: ``input`` (a pydantic model or a JSON schema) validates
    its messages, ``config`` sets retries, ``condition(input, ctx)`` may skip them."""
    return QueueTrigger(topic=topic, input=input, config=config, condition=condition)


def cron(expression: str, *, condition: TriggerCondition | None = None) -> CronTrigger:
    """A cron trigger: 5 fields, 6 (seconds first) or 7 (seconds first, a year last)."""
    return CronTrigger(expression=expression, condition=condition)
