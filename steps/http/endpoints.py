"""HTTP triggers as django-ninja routes.

Each http trigger becomes one route of one :class:`ninja.NinjaAPI`, the routes in precedence
order (:mod:`steps.http.routes`): path parameters (validated by ninja) come from a generated
signature; the body is parsed here (JSON only) and validated against the ``body_schema`` (a
pydantic model or a JSON-schema dict). The trigger's condition and middleware run around the
handler (:mod:`steps.http.chain`); the handler gets an :class:`ApiRequest` and ``ctx`` and
returns ``{"status", "body", "headers"}``. OpenAPI docs are served at ``/api/docs``
(:mod:`steps.http.openapi`).

Bad input is never a 500: it is a 4xx JSON :class:`~steps.http.responses.ErrorBody` naming the
problem (400 not JSON, 413 too large, 415 not declared as JSON, 422 failing validation,
including the stream data a handler writes), and nothing is changed.
"""

import inspect
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson
import pydantic
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from ninja import NinjaAPI
from ninja.errors import ValidationError
from ninja.params.functions import Path
from ninja.security import APIKeyCookie

from streams.definitions import (
    MAX_KEY_LENGTH,
    StreamValidationError,
    field_errors,
    json_schema_errors,
)
from streams.publishing import published
from streams.runtime import is_async
from streams.sockets import session_user
from streams.storage import StreamKeyError, UpdateOpError

from ..conf import engine_settings
from ..definitions import FlowContext, HttpTrigger, Step, StepRegistry, flows_overview, new_trace_id
from ..models import StepRun
from ..records import Run, step_run
from ..running import EnqueueError, sender
from .asgi import STEP_URL_NAME_PREFIX, body_too_large_message
from .chain import CONDITION_NOT_MET, call, chained, condition_allows
from .openapi import complete_document
from .responses import ErrorBody, ResponseChecker
from .routes import PATH_PARAM, ninja_path, path_shape, precedence

logger = logging.getLogger("steps.http")

TRACE_HEADER = "X-Trace-Id"
_TRACE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# A path parameter is usually a stream key: what a key may be, and never a "/" (the route's
# segment separator, even percent-encoded) nor NUL (which PostgreSQL refuses).
PATH_PARAM_PATTERN = r"^[^/\x00]+$"
_JSON_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json$")


@dataclass
class ApiRequest:
    """The request a handler sees: ``body`` (the validated ``body_schema`` model, or parsed
    JSON), ``path_params``, ``query_params`` and ``headers``; ``django`` is the HttpRequest."""

    body: Any
    path_params: dict[str, str]
    django: HttpRequest = field(repr=False)

    @property
    def params(self) -> dict[str, str]:
        """Path parameters, under the name Motia's handlers use (``request.params["id"]``)."""
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
    """The request cannot be read: answered ``status`` (400 by default) with ``message``."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.message = message
        self.status = status
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


_STATUS_KEYS = ("status_code", "status")


def to_response(result: Any, trace_id: str) -> HttpResponse:
    """Turn a handler's ``{"status", "body", "headers"}`` into a response. The status may be
    given as ``status_code`` too (which wins over ``status``, as in Motia); a pydantic model
    with those fields is read as its dict."""
    if isinstance(result, pydantic.BaseModel):
        result = result.model_dump()
    if isinstance(result, HttpResponse):
        response = result
    elif result is None:
        response = HttpResponse(status=204)
    elif isinstance(result, Mapping) and any(key in result for key in (*_STATUS_KEYS, "body")):
        status = int(next((result[key] for key in _STATUS_KEYS if key in result), 200))
        body = result.get("body")
        no_body = status == 204 or body is None
        response = HttpResponse(status=status) if no_body else json_response(body, status)
        for name, value in (result.get("headers") or {}).items():
            response[name] = value
    else:
        raise TypeError("a handler must return {'status': ..., 'body': ..., 'headers': ...}")
    response[TRACE_HEADER] = trace_id
    return response


def _is_json(request: HttpRequest) -> bool:
    """Whether the body is JSON: declared so, or declared as nothing."""
    declared = request.META.get("CONTENT_TYPE", "")
    return not declared or bool(_JSON_TYPE.match((request.content_type or "").lower()))


def _body_bytes(request: HttpRequest) -> bytes:
    """The body, if any. Reading one over the size limit raises RequestDataTooBig (413); one
    declared as anything but JSON is a 415, while one without a Content-Type is taken as JSON."""
    body = request.body
    if body and not _is_json(request):
        declared = request.META.get("CONTENT_TYPE", "")
        raise BadRequest(f"Content-Type must be application/json, not {declared!r}", 415)
    return body


def _parsed_json(body: bytes) -> Any:
    """The body's JSON (None without a body); 400 when it is not JSON."""
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"request body is not valid JSON: {error}") from None


def _body_errors(errors: list[dict[str, Any]]) -> ValidationError:
    return ValidationError([{**e, "loc": ["body", *e["loc"]]} for e in errors])


def _validated_body(trigger: HttpTrigger, request: HttpRequest, raw_body: bool = False) -> Any:
    """The body: validated by the trigger's ``body_schema`` (422 with the failing fields),
    or the parsed JSON (None without a body) when it has none. A JSON-schema ``body_schema``
    gives the handler the parsed JSON, a model gives it the model. With ``raw_body`` (a step
    that reads bodies itself), one without a schema that is not JSON is None, not a 415."""
    schema = trigger.body_schema
    if raw_body and schema is None and not _is_json(request):
        return None
    body = _body_bytes(request)
    if schema is None:
        return _parsed_json(body)
    if not body:
        raise ValidationError([{"loc": ["body"], "msg": "Field required", "type": "missing"}])
    validator = trigger.body_validator
    if validator is not None:
        data = _parsed_json(body)
        errors = json_schema_errors(validator, data)
        if errors:
            raise _body_errors(errors)
        return data
    assert isinstance(schema, type)
    try:
        # Strict, as JSON schemas (and Motia's zod) are: true is not 1, 1 is not "1".
        return schema.model_validate_json(body, strict=True)
    except pydantic.ValidationError as error:
        failure = error
    fixed = _integral_floats_as_ints(body, failure)
    if fixed is not None:
        try:
            return schema.model_validate_json(fixed, strict=True)
        except pydantic.ValidationError as error:
            failure = error
    errors = field_errors(failure)
    invalid_json = [e["msg"] for e in errors if e["type"] == "json_invalid"]
    if invalid_json:
        raise BadRequest(f"request body is not valid JSON: {invalid_json[0]}")
    raise _body_errors(errors)


def _integral_floats_as_ints(body: bytes, error: pydantic.ValidationError) -> str | None:
    """The body with each ``310.0`` that an integer field refused written ``310`` (JSON Schema
    counts it an integer, strict pydantic does not); None when there is none."""
    locations = [
        e["loc"]
        for e in error.errors(include_url=False)
        if e["type"] == "int_type" and isinstance(e["input"], float) and e["input"].is_integer()
    ]
    if not locations:
        return None
    data = json.loads(body)  # exact big integers, unlike orjson
    changed = False
    for loc in locations:
        *parents, last = loc
        try:
            container = data
            for key in parents:
                container = container[key]
            if isinstance(container[last], float):
                container[last] = int(container[last])
                changed = True
        except (KeyError, IndexError, TypeError):
            continue  # a location inside a union names its member, not a key of the data
    return json.dumps(data) if changed else None


def _trace_id(request: HttpRequest) -> str | None:
    incoming = request.headers.get(TRACE_HEADER)
    return incoming if incoming and _TRACE_ID.match(incoming) else None


def _build_request(
    request: HttpRequest, trigger: HttpTrigger, path_params: dict[str, str], raw_body: bool
) -> ApiRequest:
    body = _validated_body(trigger, request, raw_body)
    return ApiRequest(body=body, path_params=path_params, django=request)


def validate_responses() -> bool:
    """Whether handlers' responses are checked against their ``response_schema``."""
    return engine_settings.STEPS_VALIDATE_RESPONSES


def _checked(response: HttpResponse, step: Step, checker: ResponseChecker) -> HttpResponse:
    """The response, or a 500 naming how it breaks the step's ``response_schema``."""
    problem = checker.problem(response)
    if problem is None:
        return response
    message = f"{step.name} answered {response.status_code} against its response_schema"
    logger.error(message, extra={"fields": {"problem": problem}})
    checked = _errors_response(500, f"{message}: {problem}")
    checked[TRACE_HEADER] = response[TRACE_HEADER]
    return checked


def make_view(step: Step, trigger: HttpTrigger, route: str | None = None) -> Callable[..., Any]:
    """A ninja view for one http trigger, served at ``route`` (the trigger's path unless
    another trigger's path of the same shape names its parameters: they are passed on under
    the trigger's own names). It is async whatever the handler is: a plain handler runs on a
    thread for plain code (:func:`streams.runtime.hooks.run_plain`)."""
    handler = step.handler
    handler_is_async = is_async(handler)
    schemas = trigger.response_schema
    checker = ResponseChecker(schemas) if schemas is not None and step.check_responses else None
    route_params = PATH_PARAM.findall(route or trigger.path)
    param_names = list(zip(trigger.path_params, route_params, strict=True))

    async def answer(api_request: ApiRequest, ctx: FlowContext, run: Run) -> HttpResponseBase:
        condition = trigger.condition
        if condition is not None and not await condition_allows(condition, api_request, ctx):
            run.detail["status"] = 422
            run.finish(StepRun.Status.SKIPPED)
            skipped = json_response(CONDITION_NOT_MET, 422)
            skipped[TRACE_HEADER] = run.trace_id
            return skipped

        async def handle() -> Any:
            return await call(handler, api_request, ctx)

        result = await chained(trigger.middleware, api_request, ctx, handle)()
        if isinstance(result, StreamingHttpResponse):
            # The handler goes on writing (Motia's streamed answers): the run ends with the
            # body, which cannot be checked against a response_schema.
            result[TRACE_HEADER] = run.trace_id
            run.detail["status"] = result.status_code
            body = result.streaming_content
            result.streaming_content = _run_to_the_end(body, result.status_code, run)
            return result
        response = to_response(result, run.trace_id)
        if checker is not None and validate_responses():
            response = _checked(response, step, checker)
        # A 5xx the handler chose is a failed run too.
        failed = response.status_code >= 500
        run.detail["status"] = response.status_code
        run.finish(StepRun.Status.FAILED if failed else StepRun.Status.SUCCEEDED)
        return response

    async def view(request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
        setattr(request, STEP_NAME_ATTRIBUTE, step.name)  # for the log of a failure
        path_params = {name: kwargs[route_name] for name, route_name in param_names}
        api_request = _build_request(request, trigger, path_params, step.raw_body)
        user = await session_user(request.COOKIES)
        trace_id = _trace_id(request) or new_trace_id()
        detail = {"method": request.method, "path": request.path}  # for the trace view
        with step_run(step.name, "http", trace_id, detail=detail) as run:
            ctx = FlowContext.for_step(
                step,
                trace_id=run.trace_id,
                trigger=trigger,
                sync=not handler_is_async,
                user=user,
                log_records=run.logs,
            )
            response = await answer(api_request, ctx, run)
        # Answer once what the handler caused has left the process (its changes' events for
        # the other servers, what it enqueued, its stream triggers): a server killed after
        # answering loses none of it.
        await published()
        await sender.sent()
        return response

    parameters = [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += [
        inspect.Parameter(
            p,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=str,
            default=Path(..., max_length=MAX_KEY_LENGTH, pattern=PATH_PARAM_PATTERN),
        )
        for p in route_params
    ]
    # What ninja reads the parameters from; typeshed's functions do not declare it.
    view.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    view.__name__ = re.sub(r"\W", "_", f"{step.name}_{trigger.method}").lower()
    view.__doc__ = trigger.description or step.config.description or None
    return view


async def _run_to_the_end(body: Any, status: int, run: Run) -> AsyncIterator[bytes]:
    """A streamed body (an async iterator), which ends its run: failed if it breaks off (what
    the handler caused has left once it ends, as for any answer)."""
    try:
        async for chunk in body:
            yield chunk
    except BaseException as error:
        run.finish(StepRun.Status.FAILED, error)
        raise
    failed = status >= 500
    run.finish(StepRun.Status.FAILED if failed else StepRun.Status.SUCCEEDED)
    await published()
    await sender.sent()


# The request attribute naming the step whose view serves it.
STEP_NAME_ATTRIBUTE = "step_name"


def _errors_response(status: int, detail: Any) -> HttpResponse:
    return json_response({"detail": detail}, status)


def add_error_handlers(api: NinjaAPI) -> None:
    """Bad input, in the request or in what a handler's stream calls got from it, is the
    client's error: 4xx with the reason. Anything else is a 500, as JSON too."""

    @api.exception_handler(StreamKeyError)
    def key_invalid(request: HttpRequest, error: StreamKeyError) -> HttpResponse:
        stream = [error.stream_name] if error.stream_name else []
        loc = ["stream", *stream, error.kind.replace(" ", "_")]
        return _errors_response(422, [{"loc": loc, "msg": str(error), "type": "key"}])

    @api.exception_handler(RequestDataTooBig)
    def too_big(request: HttpRequest, error: RequestDataTooBig) -> HttpResponse:
        return _errors_response(413, body_too_large_message())

    @api.exception_handler(Exception)
    def failed(request: HttpRequest, error: Exception) -> HttpResponse:
        step_name = getattr(request, STEP_NAME_ATTRIBUTE, None)
        if step_name is None:  # before a step's view (django-ninja's own code)
            logger.error("%s %s failed", request.method, request.path, exc_info=error)
        else:
            logger.error(
                "step %s failed: %s %s", step_name, request.method, request.path, exc_info=error
            )
        return _errors_response(500, "internal server error")

    @api.exception_handler(StreamValidationError)
    def stream_invalid(request: HttpRequest, error: StreamValidationError) -> HttpResponse:
        detail = [
            {"loc": ["stream", error.stream_name, *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in error.errors
        ]
        return _errors_response(422, detail)

    @api.exception_handler(UpdateOpError)
    def op_invalid(request: HttpRequest, error: UpdateOpError) -> HttpResponse:
        loc: list[str | int] = ["ops"] if error.index is None else ["ops", error.index]
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
        return _errors_response(error.status, error.message)


class StaffSession(APIKeyCookie):
    """The dashboard's rule (the admin's): the session of a signed-in, active staff user.

    The flows describe the project's inner workings (every step, topic and schema name), which
    is not for visitors; the step endpoints themselves stay as their steps make them."""

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = request.user
        return user if user.is_active and user.is_staff else None


class StepsAPI(NinjaAPI):
    """The API of the step endpoints; its OpenAPI document tells each step's request body and
    responses (:mod:`steps.http.openapi`)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # Operation id -> (step name, trigger), for the document.
        self.step_triggers: dict[str, tuple[str, HttpTrigger]] = {}

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> Any:
        document = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        return complete_document(document, self.step_triggers)


def build_api(steps: StepRegistry) -> NinjaAPI:
    """One API with ``GET /api/flows`` and a route for every http trigger of every step, in
    precedence order (:func:`steps.http.routes.precedence`): a static segment before a parameter,
    whatever order the steps were found in. Of two triggers on one method and path shape the
    first found is served (``steps.E005`` reports the other); triggers of one shape share the
    first one's path, so that each method of it is reached."""
    api = StepsAPI(
        title="Motia steps",
        description="HTTP triggers of the project's steps.",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        urls_namespace="steps",
    )
    add_error_handlers(api)

    @api.get(
        "/api/flows",
        summary="Flows",
        tags=["flows"],
        operation_id="flows_overview",
        response={200: dict[str, Any], 401: ErrorBody},
        auth=StaffSession(),
    )
    def flows(request: HttpRequest) -> HttpResponse:
        """The steps by flow, with their triggers and topic edges, as the dashboard shows them:
        for staff only, as the dashboard (401 otherwise)."""
        return json_response(flows_overview(steps))

    triggers = [(step, t) for step in steps for t in step.config.triggers_of(HttpTrigger)]
    routes: dict[str, str] = {}  # path shape -> the path its routes are served at
    claimed: set[tuple[str, str]] = set()
    for step, trigger in sorted(triggers, key=lambda pair: precedence(pair[1].path)):
        shape = path_shape(trigger.path)
        if (trigger.method, shape) in claimed:
            continue
        claimed.add((trigger.method, shape))
        route = routes.setdefault(shape, trigger.path)
        operation_id = f"{step.name}_{trigger.method.lower()}"
        api.step_triggers[operation_id] = (step.name, trigger)
        api.api_operation(
            [trigger.method],
            ninja_path(route),
            summary=step.name,
            tags=list(step.config.flows) or ["steps"],
            operation_id=operation_id,
            url_name=f"{STEP_URL_NAME_PREFIX}{step.name}-{trigger.method.lower()}",
        )(make_view(step, trigger, route))
    return api
