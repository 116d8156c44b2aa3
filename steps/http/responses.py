"""What step endpoints answer: the engine's error body, the answer to a method a route does
not take, and checking a handler's responses against its trigger's ``response_schema``.

Every refusal by the engine itself (bad JSON, a body too large or not JSON, a path parameter or
body that fails validation, stream data the store refuses, a handler that failed) is a JSON
:class:`ErrorBody` with one of :data:`ENGINE_STATUSES`. Steps may use :class:`ErrorBody` in
their own ``response_schema`` too (``404: ErrorBody``). So are the answers of the step routes
to a path that matches none (404) or a method a route does not take (405, with ``Allow``).

A route takes its steps' methods, ``HEAD`` where it takes ``GET`` (answered as ``GET`` without
the body, as HTTP asks of every resource that has a ``GET``), and ``OPTIONS``, answered ``204``
with ``Allow`` (a CORS preflight gets no ``Access-Control-*`` header from it, so a browser keeps
other origins out until CORS middleware around the application lets them in).
"""

from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from http import HTTPStatus
from inspect import iscoroutinefunction
from typing import Any, Literal

import jsonschema
import orjson
import pydantic
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotAllowed

from ..definitions import HTTP_METHODS, ResponseSchema


class ErrorEntry(pydantic.BaseModel):
    """One failing field: where (``loc``, e.g. ``["body", "description"]``), why (``msg``) and
    the kind of failure (``type``)."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(pydantic.BaseModel):
    """An error: a message, or the list of failing fields of a 422."""

    detail: str | list[ErrorEntry]


class ConditionNotMet(pydantic.BaseModel):
    """The 422 of a request that an http trigger's ``condition`` refused: the handler did not
    run (Motia's engine answers the same)."""

    error: Literal["Request condition not met"]
    skipped: Literal[True]


# The statuses the engine answers on its own, for every step endpoint.
ENGINE_STATUSES: dict[int, str] = {
    400: "The request body is not valid JSON.",
    413: "The request body is larger than the server accepts (DATA_UPLOAD_MAX_MEMORY_SIZE).",
    415: "The request has a body whose Content-Type is not JSON.",
    422: "A path parameter or the body fails validation, or the handler's stream data does "
    "(a key empty or too long, an item its stream's schema refuses, a NUL character).",
    500: "The handler failed.",
}


def allowed_methods(declared: Iterable[str]) -> list[str]:
    """What a route takes, given its steps' methods: those, ``HEAD`` with ``GET``, and
    ``OPTIONS``, in the order of :data:`~steps.definitions.config.HTTP_METHODS`."""
    methods = {*declared, "OPTIONS"}
    if "GET" in methods:
        methods.add("HEAD")
    known = [m for m in HTTP_METHODS if m in methods]
    return known + sorted(methods.difference(HTTP_METHODS))


def other_method_response(method: str, path: str, declared: Iterable[str]) -> HttpResponse:
    """The answer to ``method`` at a route whose steps take ``declared``: 204 to ``OPTIONS``,
    405 naming the methods it takes otherwise, both with ``Allow``."""
    allowed = allowed_methods(declared)
    if method == "OPTIONS":
        response = HttpResponse(status=204)
        del response["Content-Type"]  # no body, no type
    else:
        detail = f"{method} is not allowed at {path}: it takes {', '.join(allowed)}"
        body = orjson.dumps({"detail": detail})
        response = HttpResponse(body, status=405, content_type="application/json")
    response["Allow"] = ", ".join(allowed)
    return response


def _declared_methods(response: HttpResponseBase) -> list[str] | None:
    """The methods a route takes, when ``response`` is django-ninja's refusal of another."""
    if not isinstance(response, HttpResponseNotAllowed):
        return None
    return [method.strip() for method in response["Allow"].split(",") if method.strip()]


def answering_other_methods(view: Callable[..., Any]) -> Callable[..., Any]:
    """``view`` (a django-ninja path's view), with a method its route does not take answered
    as the step routes answer it: ``HEAD`` as ``GET`` where it takes ``GET``, 204 to
    ``OPTIONS``, otherwise a JSON 405 (:func:`other_method_response`), where django-ninja
    answers a plain-text 405."""

    def other(request: HttpRequest, declared: list[str]) -> HttpResponse | None:
        if request.method == "HEAD" and "GET" in declared:
            request.method = "GET"
            return None  # call the view again, as GET
        return other_method_response(request.method or "", request.path_info, declared)

    if iscoroutinefunction(view):

        @wraps(view)
        async def answer_async(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            response = await view(request, *args, **kwargs)
            declared = _declared_methods(response)
            if declared is None:
                return response
            refusal = other(request, declared)
            return refusal if refusal is not None else await view(request, *args, **kwargs)

        return answer_async

    @wraps(view)
    def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = view(request, *args, **kwargs)
        declared = _declared_methods(response)
        if declared is None:
            return response
        refusal = other(request, declared)
        return refusal if refusal is not None else view(request, *args, **kwargs)

    return answer


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Status {status}"


class ResponseChecker:
    """Checks a handler's response against its trigger's ``response_schema``: a declared
    status must carry a body its schema accepts (none for ``None``); an undeclared status is
    allowed only among the engine's own (:data:`ENGINE_STATUSES`)."""

    def __init__(self, schemas: Mapping[int, ResponseSchema]) -> None:
        self.schemas = dict(schemas)
        self._validators: dict[int, jsonschema.Draft202012Validator] = {
            status: jsonschema.Draft202012Validator(schema)
            for status, schema in self.schemas.items()
            if isinstance(schema, Mapping)
        }

    def problem(self, response: HttpResponse) -> str | None:
        """Why the response breaks the schema, or None when it keeps to it."""
        status = response.status_code
        if status not in self.schemas:
            if status in ENGINE_STATUSES:
                return None
            return f"status {status} is not in its response_schema"
        schema = self.schemas[status]
        content = response.content
        if schema is None:
            return f"status {status} is declared without a body" if content else None
        if not content:
            return f"status {status} has no body"
        if isinstance(schema, Mapping):
            errors = sorted(
                self._validators[status].iter_errors(orjson.loads(content)),
                key=lambda e: list(e.absolute_path),
            )
            if errors:
                return "; ".join(_located(list(e.absolute_path), e.message) for e in errors)
            return None
        try:
            schema.model_validate_json(content)
        except pydantic.ValidationError as error:
            return "; ".join(
                _located(list(e["loc"]), e["msg"]) for e in error.errors(include_url=False)
            )
        return None


def _located(loc: list[Any], message: str) -> str:
    return f"{'.'.join(str(part) for part in loc) or '<body>'}: {message}"
