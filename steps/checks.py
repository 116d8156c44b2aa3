"""Django system checks of the steps and of their settings (:mod:`steps.conf`): what is wrong
with them, reported by ``manage.py check``. The app registers them as it gets ready.

- ``steps.E001`` (error): a step module that cannot be loaded, its ``config`` does not parse
  or it has no ``handler``;
- ``steps.E002`` (error): two modules define a step of the same name;
- ``steps.E003`` (error): a cron trigger's expression is not valid;
- ``steps.E004`` (error): a stream trigger names a stream that no ``*_stream.py`` defines;
- ``steps.E005`` (error): two http triggers answer the same method and path (``/todos/:id``
  and ``/todos/:key`` are one path);
- ``steps.E006`` (error): an entry of the project's beat schedule has the name of a cron
  trigger's (:mod:`steps.celery`);
- ``steps.E007`` (error): the project's Celery app was not set up with
  ``steps.celery.setup(app)`` (:mod:`steps.celery`);
- ``steps.W001`` (warning): a step enqueues a topic that no step subscribes to (virtual
  subscribes count);
- ``steps.W002`` (warning): a queue trigger sets ``visibilityTimeout`` or ``concurrency``, which
  do nothing here.

Of the settings (with every check, not under the tag):

- ``steps.E008`` (error): a setting's value is not what it must be (a word where a number goes);
- ``steps.W003`` (warning): workers beat less often than the health check lets a beat age, so a
  healthy worker would count as down between two beats;
- ``steps.W004`` (warning): a ``STEPS_*`` setting the engine does not have (a typo: the engine
  would use the default instead).

The checks read the registry, which keeps the modules it could not load instead of failing at
import. Processes that never run Django's checks would serve without a broken step, so they
refuse to start with the same messages (:func:`require_valid_definitions`): the ASGI server when it
builds the step router (:class:`steps.http.asgi.StepRouter`), and Celery's worker and beat through
:func:`refuse_to_start`.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Warning, run_checks
from django.core.exceptions import ImproperlyConfigured

from streams.checks import TAG as STREAMS_TAG
from streams.checks import check_app_settings
from streams.definitions import registry as stream_registry
from streams.runtime import in_apps

from .conf import StepsSettings, app_settings
from .definitions import (
    HttpTrigger,
    LoadError,
    ProblemKind,
    QueueTrigger,
    Step,
    StreamTrigger,
    registry,
)
from .http import RouteClaim, conflicts

TAG = "steps"
"""The tag of these checks: ``manage.py check --tag steps`` runs them alone."""

_LOAD_ERROR_IDS: dict[ProblemKind, str] = {
    "config": "steps.E001",
    "duplicate": "steps.E002",
    "cron": "steps.E003",
}


def load_errors(errors: Iterable[LoadError]) -> list[CheckMessage]:
    """One error for each problem of each module the registry could not load."""
    return [
        Error(problem.message, obj=error.module, id=_LOAD_ERROR_IDS[problem.kind])
        for error in errors
        for problem in error.error.problems
    ]


def unknown_streams(steps: Iterable[Step], stream_names: Iterable[str]) -> list[CheckMessage]:
    """Stream triggers that name a stream no ``*_stream.py`` defines: they would never fire."""
    known = set(stream_names)
    return [
        Error(
            f"step {step.name!r} trigger {index}: no stream {trigger.stream_name!r} is defined",
            hint=f"the streams are: {', '.join(sorted(known)) or 'none'}",
            obj=step.module,
            id="steps.E004",
        )
        for step in steps
        for index, trigger in enumerate(step.config.triggers)
        if isinstance(trigger, StreamTrigger) and trigger.stream_name not in known
    ]


def route_claims(steps: Iterable[Step]) -> list[RouteClaim]:
    """The method and path of every http trigger of ``steps``, with its step."""
    return [
        RouteClaim(trigger.method, trigger.path, step.name, step.module)
        for step in steps
        for trigger in step.config.triggers_of(HttpTrigger)
    ]


def route_conflicts(
    steps: Iterable[Step], app_configs: Sequence[AppConfig] | None = None
) -> list[CheckMessage]:
    """Two http triggers on one method and path shape: one of them would never be reached
    (those of ``app_configs`` only, when given)."""
    return [
        Error(
            f"{second.describe()} is the same route as {first.describe()}",
            hint="give one of them another path; the names of path parameters do not tell "
            "routes apart",
            obj=second.module,
            id="steps.E005",
        )
        for first, second in conflicts(route_claims(steps))
        if app_configs is None
        or in_apps(first.module, app_configs)
        or in_apps(second.module, app_configs)
    ]


def unsubscribed_topics(senders: Iterable[Step], steps: Iterable[Step]) -> list[CheckMessage]:
    """Topics that ``senders`` enqueue and none of ``steps`` subscribes to (with a queue
    trigger, or in its ``virtual_subscribes``)."""
    subscribed = set()
    for step in steps:
        subscribed |= {trigger.topic for trigger in step.config.triggers_of(QueueTrigger)}
        subscribed |= set(step.config.virtual_subscribes)
    return [
        Warning(
            f"step {step.name!r} enqueues {topic!r}, which no step subscribes to",
            hint="ctx.enqueue() to it raises EnqueueError (Motia's enqueue() drops the message); "
            "give a step a queue trigger on it",
            obj=step.module,
            id="steps.W001",
        )
        for step in senders
        for topic in step.config.enqueues
        if topic not in subscribed
    ]


# Motia's queue settings that Celery applies to a whole worker, not to one trigger.
_WORKER_WIDE = {
    "visibility_timeout": (
        "visibilityTimeout",
        "the broker's visibility timeout (CELERY_VISIBILITY_TIMEOUT) applies to every message",
    ),
    "concurrency": (
        "concurrency",
        "each worker runs as many messages at once as it has processes or threads",
    ),
}


def worker_wide_settings(steps: Iterable[Step]) -> list[CheckMessage]:
    """Queue trigger settings that are taken (Motia has them) but do nothing per trigger."""
    return [
        Warning(
            f"step {step.name!r} trigger {index}: 'config.{key}' has no effect here",
            hint=why,
            obj=step.module,
            id="steps.W002",
        )
        for step in steps
        for index, trigger in enumerate(step.config.triggers)
        if isinstance(trigger, QueueTrigger)
        for field, (key, why) in _WORKER_WIDE.items()
        if getattr(trigger.config, field) is not None
    ]


def check_steps(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """The checks of the project's steps (of ``app_configs`` only, when given)."""
    from .celery import check_celery_apps  # it reads Celery's state, as the project made it

    steps, errors = list(registry), registry.errors
    if app_configs is not None:
        errors = [error for error in errors if in_apps(error.module, app_configs)]
        senders = [step for step in steps if in_apps(step.module, app_configs)]
    else:
        senders = steps
    return [
        *load_errors(errors),
        *unknown_streams(senders, stream_registry.names()),
        *route_conflicts(steps, app_configs),
        *unsubscribed_topics(senders, steps),
        *worker_wide_settings(senders),
        *check_celery_apps(),
    ]


def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """The settings of ``steps``."""
    return check_app_settings(app_settings, "steps.E008", "steps.W004", _heartbeat_warnings)


def _heartbeat_warnings(engine: StepsSettings) -> list[CheckMessage]:
    interval = engine.STEPS_WORKER_HEARTBEAT_INTERVAL
    max_age = engine.STEPS_HEALTH_WORKER_MAX_AGE
    if max_age > interval:
        return []
    return [
        Warning(
            f"STEPS_HEALTH_WORKER_MAX_AGE ({max_age:g} s) is not longer than "
            f"STEPS_WORKER_HEARTBEAT_INTERVAL ({interval:g} s): /healthz would count a "
            "healthy worker as down between two of its heartbeats",
            hint="Let a heartbeat age a few intervals (the defaults: 5 s and 30 s).",
            id="steps.W003",
        )
    ]


def require_valid_definitions() -> None:
    """Raise ``ImproperlyConfigured`` listing the errors of the steps and streams (silenced
    ones excepted), for a process that does not run Django's checks and must not serve without
    a broken step or stream."""
    tags = [TAG, STREAMS_TAG]
    errors = [m for m in run_checks(tags=tags) if m.is_serious() and not m.is_silenced()]
    if errors:
        listed = "\n".join(str(error) for error in errors)
        raise ImproperlyConfigured(
            f"the steps or streams have errors (manage.py check lists them):\n{listed}"
        )


def refuse_to_start(**_: Any) -> None:
    """Receiver of Celery's ``worker_init`` and ``beat_init``: a worker or beat whose steps
    have errors exits with them. Celery logs and swallows what a receiver raises, so the
    error leaves as ``SystemExit``, which it lets through."""
    try:
        require_valid_definitions()
    except ImproperlyConfigured as error:
        raise SystemExit(f"ImproperlyConfigured: {error}") from error
