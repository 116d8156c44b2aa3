"""Motia http handlers, run as the engine's http steps.

The handler gets Motia's ``MotiaHttpArgs`` (``request`` and ``response``) and ctx, through
the trigger's ``middleware`` (``middleware(request, ctx, next)``, ``await next()`` giving the
handler's result, as Motia composes them: the first listed runs first). It answers as Motia
handlers do:

- an ``ApiResponse`` or a dict of ``status`` (or ``status_code``), ``body`` and ``headers``:
  the engine answers it (a ``bytes`` body is sent as it is);
- or through ``response``: once the handler writes body bytes, the answer is a streaming
  response with the status and headers it set, and each write reaches the client as it is
  made (Server-Sent Events), until the handler closes it or ends.

``None`` and nothing written is an empty 200, as in Motia.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import pydantic
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse

from streams.runtime import is_async

from .channels import ResponseChannel
from .inputs import http_args, trigger_info
from .running import Run, Started, call, call_either, current_run, running
from .services import flow_context

logger = logging.getLogger("steps.motia")

DEFAULT_CONTENT_TYPE = "application/octet-stream"


async def run_http(
    handler: Callable[..., Any],
    middleware: Sequence[Callable[..., Any]],
    request: Any,
    ctx: Any,
    index: int,
) -> Any:
    """Run a Motia http handler for the engine's ``request`` and ``ctx``; what the engine
    answers (a result dict, or a response)."""
    channel = ResponseChannel()
    args = http_args(request, channel)
    run = Run(ctx, flow_context(ctx, trigger_info(ctx.trigger, index), args))

    def handle() -> Awaitable[Any]:
        motia_ctx = run.motia_ctx
        handled = through(
            middleware, args, motia_ctx, lambda: call_either(handler, args, motia_ctx)
        )
        return run.complete(handled)

    task = asyncio.ensure_future(handle())
    started = asyncio.ensure_future(channel.started.wait())
    try:
        await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # the client went away before an answer
        task.cancel()
        raise
    finally:
        started.cancel()
    if task.done():
        return answer(task.result(), channel)
    task.add_done_callback(lambda _: channel.close())
    return streamed(channel, task)


async def through(
    middleware: Sequence[Callable[..., Any]],
    request: Any,
    ctx: Any,
    handler: Callable[[], Any],
) -> Any:
    """The handler's result through the middleware, each ``middleware(request, ctx, next)``;
    a plain one runs in sync mode here, and may return ``next()`` for the chain to await."""

    async def at(position: int) -> Any:
        if position == len(middleware):
            return await handler()
        step = middleware[position]
        forward = functools.partial(at, position + 1)
        if is_async(step):
            result = call(step, request, ctx, forward)
        else:
            with running(current_run(), "sync"):
                result = call(step, request, ctx, forward)
        return await result if inspect.isawaitable(result) else result

    return await at(0)


def answer(result: Any, channel: ResponseChannel) -> Any:
    """What the engine answers for a handler that ended before streaming anything."""
    if result is None:
        written = channel.written()
        if written or channel.closed or channel.headers or channel.status != 200:
            return _response(written, channel.status, channel.headers)
        return {"status": 200, "body": None}
    return engine_result(result)


def engine_result(result: Any) -> Any:
    """A Motia handler's result in the engine's form."""
    if isinstance(result, HttpResponseBase):
        return result
    if isinstance(result, pydantic.BaseModel) and hasattr(result, "status"):
        status, body = result.status, getattr(result, "body", None)
        headers = getattr(result, "headers", None) or {}
    elif isinstance(result, Mapping):
        status = result.get("status_code", result.get("status", 200))
        body, headers = result.get("body"), result.get("headers") or {}
    else:
        logger.warning(
            "an http handler returned %s, not a response: answered 200 with no body",
            type(result).__name__,
        )
        return {"status": 200, "body": None}
    if isinstance(body, Started):
        raise TypeError(f"the response body is {body.what}, not awaited")
    headers = {str(name): str(value) for name, value in dict(headers or {}).items()}
    if isinstance(body, bytes | bytearray):
        return _response(bytes(body), int(status), headers)
    return {"status": int(status), "body": body, "headers": headers}


def _response(content: bytes, status: int, headers: Mapping[str, str]) -> HttpResponse:
    response = HttpResponse(content, status=status, content_type=_content_type(headers))
    for name, value in headers.items():
        response[name] = value
    return response


def _content_type(headers: Mapping[str, str]) -> str:
    given = {name.lower(): value for name, value in headers.items()}
    return given.get("content-type", DEFAULT_CONTENT_TYPE)


def streamed(channel: ResponseChannel, task: asyncio.Future[Any]) -> StreamingHttpResponse:
    """The response that sends what the handler writes as it writes it; it ends when the
    handler closes it or ends (a handler that fails then aborts it)."""

    async def body() -> AsyncIterator[bytes]:
        completed = False
        try:
            async for chunk in channel.body():
                yield chunk
            completed = True
        finally:
            if not completed and not task.done():  # the client went away
                task.cancel()
        await task

    response = StreamingHttpResponse(
        body(), status=channel.status, content_type=_content_type(channel.headers)
    )
    for name, value in channel.headers.items():
        response[name] = value
    return response
