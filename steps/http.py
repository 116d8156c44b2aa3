"""HTTP triggers as django-ninja routes.

Each http trigger becomes one route of one :class:`ninja.NinjaAPI`: path parameters and the
``body_schema`` (validated by ninja, 422 with field errors) come from a generated signature;
the handler gets an :class:`ApiRequest` and ``ctx`` and returns ``{"status", "body",
"headers"}``. OpenAPI docs are served at ``/api/docs``.
"""

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson
import pydantic
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import ValidationError

from streams.auth import session_user
from streams.config import StreamValidationError
from streams.hooks import is_async, run_plain
from streams.ops import UpdateOpError

from .asgi import STEP_URL_NAME_PREFIX
from .config import HttpTrigger
from .context import FlowContext, new_trace_id
from .flows import flows_overview
from .models import StepRun
from .queue import EnqueueError
from .registry import Step, StepRegistry
from .runs import step_run

TRACE_HEADER = "X-Trace-Id"
_TRACE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass
class ApiRequest:
    """The request a handler sees: ``body`` (the validated ``body_schema`` model, or parsed
    JSON), ``path_params``, ``query_params`` and ``headers``; ``django`` is the HttpRequest."""

    body: Any
    path_params: dict[str, str]
    django: HttpRequest = field(repr=False)

    @property
    def params(self) -> dict[str, str]:
        """Path parameters, under the name the seed uses (``request.params["id"]``)."""
        return self.path_params

    @cached_property
    def query_params(self) -> dict[str, str | list[str]]:
        """Query parameters: a name given once maps to its value, given more often to a list."""
        params: dict[str, str | list[str]] = {}
        for key in self.django.GET:
            values = self.django.GET.getlist(key)
            params[key] = values[0] if len(values) == 1 else values
        return params

    @property
    def headers(self) -> Mapping[str, str]:
        return self.django.headers


class BadRequest(Exception):
    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def _json_default(value: Any) -> Any:
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    content = b"" if body is None else orjson.dumps(body, default=_json_default)
    response = HttpResponse(content, status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def to_response(result: Any, trace_id: str) -> HttpResponse:
    """Turn a handler's ``{"status", "body", "headers"}`` into a response."""
    if isinstance(result, HttpResponse):
        response = result
    elif result is None:
        response = HttpResponse(status=204)
    elif isinstance(result, Mapping) and ("status" in result or "body" in result):
        status = int(result.get("status", 200))
        body = result.get("body")
        no_body = status == 204 or body is None
        response = HttpResponse(status=status) if no_body else json_response(body, status)
        for name, value in (result.get("headers") or {}).items():
            response[name] = value
    else:
        raise TypeError("a handler must return {'status': ..., 'body': ..., 'headers': ...}")
    response[TRACE_HEADER] = trace_id
    return response


def _raw_body(request: HttpRequest) -> Any:
    if not request.body:
        return None
    try:
        return orjson.loads(request.body)
    except orjson.JSONDecodeError:
        raise BadRequest("request body is not valid JSON") from None


def _trace_id(request: HttpRequest) -> str | None:
    incoming = request.headers.get(TRACE_HEADER)
    return incoming if incoming and _TRACE_ID.match(incoming) else None


def _build_request(
    request: HttpRequest, trigger: HttpTrigger, kwargs: dict[str, Any]
) -> ApiRequest:
    body = kwargs.pop("body") if trigger.body_schema is not None else _raw_body(request)
    path_params = {name: kwargs[name] for name in trigger.path_params}
    return ApiRequest(body=body, path_params=path_params, django=request)


def make_view(step: Step, trigger: HttpTrigger) -> Callable[..., Any]:
    """A ninja view for one http trigger. It is async whatever the handler is: a plain
    handler runs on a thread for plain code (:func:`streams.hooks.run_plain`)."""
    handler = step.handler
    handler_is_async = is_async(handler)

    async def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        api_request = _build_request(request, trigger, kwargs)
        user = await session_user(request.COOKIES)
        with step_run(step.name, "http", _trace_id(request) or new_trace_id()) as run:
            ctx = FlowContext.for_step(
                step,
                trace_id=run.trace_id,
                trigger=trigger,
                sync=not handler_is_async,
                user=user,
                log_records=run.logs,
            )
            if handler_is_async:
                result = await handler(api_request, ctx)
            else:
                result = await run_plain(handler, api_request, ctx)
            response = to_response(result, run.trace_id)
            # A 5xx the handler chose is a failed run too.
            failed = response.status_code >= 500
            run.finish(StepRun.Status.FAILED if failed else StepRun.Status.SUCCEEDED)
        return response

    parameters = [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += [
        inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, annotation=str)
        for p in trigger.path_params
    ]
    if trigger.body_schema is not None:
        parameters.append(
            inspect.Parameter(
                "body", inspect.Parameter.KEYWORD_ONLY, annotation=trigger.body_schema
            )
        )
    view.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    view.__name__ = re.sub(r"\W", "_", f"{step.name}_{trigger.method}").lower()
    view.__doc__ = trigger.description or step.config.description or None
    return view


def _errors_response(status: int, detail: Any) -> HttpResponse:
    return json_response({"detail": detail}, status)


def add_error_handlers(api: NinjaAPI) -> None:
    """Bad input from a handler's stream calls is the client's error: 4xx with the reason."""

    @api.exception_handler(StreamValidationError)
    def stream_invalid(request: HttpRequest, error: StreamValidationError) -> HttpResponse:
        detail = [
            {"loc": ["stream", error.stream_name, *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in error.errors
        ]
        return _errors_response(422, detail)

    @api.exception_handler(UpdateOpError)
    def op_invalid(request: HttpRequest, error: UpdateOpError) -> HttpResponse:
        loc = ["ops"] if error.index is None else ["ops", error.index]
        return _errors_response(422, [{"loc": loc, "msg": str(error), "type": "update_op"}])

    @api.exception_handler(ValidationError)
    def request_invalid(request: HttpRequest, error: ValidationError) -> HttpResponse:
        detail = []
        for entry in error.errors:
            loc = list(entry.get("loc", ()))
            if loc[:2] == ["body", "body"]:  # ninja names the body parameter; users need not
                loc = ["body", *loc[2:]]
            detail.append({**entry, "loc": loc})
        return _errors_response(422, detail)

    @api.exception_handler(EnqueueError)
    def enqueue_failed(request: HttpRequest, error: EnqueueError) -> HttpResponse:
        return _errors_response(500, str(error))

    @api.exception_handler(BadRequest)
    def bad_request(request: HttpRequest, error: BadRequest) -> HttpResponse:
        return _errors_response(400, error.message)


def build_api(steps: StepRegistry) -> NinjaAPI:
    """One API with a route for every http trigger of every step, and ``GET /api/flows``."""
    api = NinjaAPI(
        title="Motia steps",
        description="HTTP triggers of the project's steps.",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        urls_namespace="steps",
    )
    add_error_handlers(api)
    for step in steps:
        for trigger in step.config.triggers_of(HttpTrigger):
            api.api_operation(
                [trigger.method],
                trigger.route_path,
                summary=step.name,
                tags=list(step.config.flows) or ["steps"],
                operation_id=f"{step.name}_{trigger.method.lower()}",
                url_name=f"{STEP_URL_NAME_PREFIX}{step.name}-{trigger.method.lower()}",
            )(make_view(step, trigger))

    @api.get("/api/flows", summary="Flows", tags=["flows"], operation_id="flows_overview")
    def flows(request: HttpRequest) -> HttpResponse:
        """The steps by flow, with their triggers and topic edges (for the dashboard)."""
        return json_response(flows_overview(steps))

    return api
