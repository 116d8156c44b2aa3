"""Motia's ``tracing`` helpers. Motia opens OpenTelemetry spans around steps and
operations when ``opentelemetry`` is installed; here the engine traces runs itself (trace ids
on every log line and run record), so these are no-ops that keep Motia code working: no span
is made, and there is no iii bridge to instrument."""

import contextlib
from collections.abc import Iterator
from typing import Any

HAS_OTEL = False


def get_tracer() -> Any:
    return None


def extract_parent_context(traceparent: str | None, baggage: str | None = None) -> Any:
    return None


def inject_context() -> dict[str, str]:
    return {}


def get_trace_id_from_span() -> str | None:
    return None


@contextlib.contextmanager
def step_span(step_name: str, trigger_type: str, **attributes: Any) -> Iterator[Any]:
    yield None


@contextlib.contextmanager
def operation_span(operation: str, **attributes: Any) -> Iterator[Any]:
    yield None


def record_exception(span: Any, exc: BaseException) -> None:
    return None


def set_span_ok(span: Any) -> None:
    return None


def instrument_bridge(bridge_instance: Any) -> None:
    return None
