"""The engine's part of a project's Celery app, added by the one call the project makes in its
``celery.py`` (as ``app.autodiscover_tasks()`` adds the apps' tasks)::

    app = Celery("mysite")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.autodiscover_tasks()
    steps.celery.setup(app)

What :func:`setup` adds to the app, and nothing else of it is touched:

- its beat schedule gets an entry for each cron trigger of the steps, beside the project's own
  entries (``CELERY_BEAT_SCHEDULE``, or ``app.conf.beat_schedule`` set in ``celery.py``). The
  steps are known once Django's apps are ready, so the entries are added then; an entry of the
  project named as one of the engine's (``<step>:cron:<index>``) is kept, and the check
  ``steps.E006`` reports it;
- its workers get the bootstep that records their heartbeats (:mod:`steps.running.heartbeat`);
- with ``STEPS_EMBEDDED_WORKER``, an app that names no broker is pointed at the in-process one
  (:func:`steps.running.worker.use_in_process_broker`).

A project without a Celery app of its own (the embedded default: no ``celery.py``) needs none
of this: the engine sets up Celery's default app, which is no one else's. A project whose app
was not set up is told so by the check ``steps.E007``: its beat would run no cron step and its
workers would record no heartbeat.
"""

from __future__ import annotations

import weakref
from typing import Any

from celery import Celery
from django.apps import apps as django_apps
from django.core.checks import CheckMessage, Error

# The apps set up, in the order they were (usually one: the project's).
_set_up: list[Celery] = []
# The names of the entries the engine added to each app's schedule.
_added: weakref.WeakKeyDictionary[Celery, frozenset[str]] = weakref.WeakKeyDictionary()


def setup(app: Celery) -> Celery:
    """Add the engine's cron steps, heartbeats and (embedded) broker to ``app``; returns it.
    Call it once in the project's ``celery.py``; a second call does nothing."""
    if any(known is app for known in _set_up):
        return app
    _set_up.append(app)
    from .running import HeartbeatStep

    # Celery builds a worker's bootsteps as the worker starts, after Django is set up.
    app.steps["consumer"].add(HeartbeatStep)
    if django_apps.ready:  # called late: the steps are known already
        _configure(app)
    return app


def configure_apps() -> None:
    """From the steps app's ``ready()``, once the steps are discovered: complete the apps set
    up so far; with no Celery app of the project, set up Celery's default app."""
    if not _set_up and project_app() is None:
        from celery._state import get_current_app

        setup(get_current_app())  # makes Celery's fallback app if nothing asked for it yet
    for app in _set_up:
        _configure(app)


def project_app() -> Celery | None:
    """The Celery app the project made (the current one), None when it made none (Celery's
    own fallback app, or none yet)."""
    from celery import _state

    # Celery's state as celery._state.get_current_app reads it, without making the fallback
    # app (celery-types does not declare these).
    state: Any = _state
    app: Celery | None = state._tls.current_app or state.default_app
    if app is None or _is_celery_fallback(app):
        return None
    return app


def _is_celery_fallback(app: Celery) -> bool:
    # The app Celery makes when the current app is asked for and none was made: named
    # "default", without fix-ups and never made current (celery._state._get_current_app).
    made: Any = app
    return made.main == "default" and not made.fixups and not made.set_as_current


def _configure(app: Celery) -> None:
    from .running import use_in_process_broker

    merge_beat_schedule(app, engine_schedule())
    use_in_process_broker(app)


def engine_schedule() -> dict[str, dict[str, Any]]:
    """The beat entries of the project's cron steps."""
    from .definitions import registry
    from .running import beat_schedule

    return beat_schedule(registry)


def merge_beat_schedule(app: Celery, engine: dict[str, dict[str, Any]]) -> None:
    """Make ``app``'s beat schedule the project's entries plus ``engine``'s (those added by an
    earlier call replaced); a project entry of the same name as one of ``engine`` wins."""
    own = _own_entries(app)
    added = {name: entry for name, entry in engine.items() if name not in own}
    # A new dict: the project's (CELERY_BEAT_SCHEDULE, a Django setting) stays as it was.
    app.conf.beat_schedule = {**own, **added}
    _added[app] = frozenset(added)


def _own_entries(app: Celery) -> dict[str, dict[str, Any]]:
    """The entries of ``app``'s beat schedule that the engine did not add: the project's."""
    previous = _added.get(app, frozenset())
    schedule = app.conf.beat_schedule or {}
    return {name: entry for name, entry in schedule.items() if name not in previous}


def check_celery_apps() -> list[CheckMessage]:
    """``steps.E006``: a project's beat entry named as a cron trigger's; ``steps.E007``: the
    project's Celery app was not set up with :func:`setup`."""
    messages: list[CheckMessage] = []
    project = project_app()
    if project is not None and not any(app is project for app in _set_up):
        messages.append(
            Error(
                f"the Celery app {project.main!r} was not set up for the steps: its beat runs "
                "no cron step and its workers record no heartbeat",
                hint="add `steps.celery.setup(app)` to the project's celery.py, after "
                "app.config_from_object(...) (docs/production.md)",
                id="steps.E007",
            )
        )
    engine = engine_schedule()
    for app in _set_up:
        for name in _own_entries(app):
            if name in engine:
                messages.append(
                    Error(
                        f"the beat schedule entry {name!r} of the Celery app {app.main!r} has "
                        "the name of a cron trigger's entry, which it replaces",
                        hint="rename the entry: the engine names its entries "
                        "'<step>:cron:<trigger index>'",
                        id="steps.E006",
                    )
                )
    return messages
