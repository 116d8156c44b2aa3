"""The settings of ``steps``, with their defaults and what they mean, in one place (as
django-ninja's ``ninja.conf``), read by the machinery of :mod:`streams.conf`.

A project sets the ones it changes in its Django settings, under these names, and leaves the
others out. The engine reads them as ``engine_settings.STEPS_EMBEDDED_WORKER``: parsed once
(text such as an environment variable's is parsed too: ``"0"``, ``"off"``), kept, and read
again when Django says a setting changed. A value the engine cannot use is a system check error
(:mod:`steps.checks`), and ``ImproperlyConfigured`` when it is read.
"""

from collections.abc import Mapping
from typing import Any

from streams.conf import (
    AppSettings,
    Flag,
    NonNegativeInt,
    OptionalPath,
    PositiveInt,
    Seconds,
    Settings,
)


def is_in_process_broker(broker_url: str | None) -> bool:
    """Whether Celery's broker is its in-process one (``memory://``, or none configured)."""
    return not broker_url or broker_url.startswith("memory://")


class StepsSettings(Settings):
    """Every setting of ``steps`` with its default. Defaults that depend on other Django
    settings (``DEBUG``, ``CELERY_BROKER_URL``) are derived from them when unset."""

    derived_from = ("DEBUG", "CELERY_BROKER_URL")

    STEPS_VALIDATE_RESPONSES: Flag
    """Check every response of a step that declares a ``response_schema`` against it (a 500
    naming the problem when it does not match). Default: ``DEBUG``."""
    STEPS_EMBEDDED_WORKER: Flag
    """Run a Celery worker as threads of every server process, on Celery's in-process broker.
    Default: on when ``CELERY_BROKER_URL`` is unset or ``memory://``."""
    STEPS_EMBEDDED_BEAT: Flag = True
    """Whether the embedded worker also runs cron steps (in one process of the database)."""
    STEPS_EMBEDDED_WORKER_THREADS: PositiveInt = 4
    """Threads of the embedded worker."""
    STEPS_WORKER_HEARTBEAT_INTERVAL: Seconds = 5.0
    """Seconds between two heartbeats of a worker while it consumes."""
    STEPS_HEALTH_CHECK_TIMEOUT: Seconds = 2.0
    """Seconds each check of ``GET /healthz`` may take before it counts as down."""
    STEPS_HEALTH_WORKER_MAX_AGE: Seconds = 30.0
    """Seconds after which a worker's last heartbeat counts as down."""
    STEPS_MOTIA_DOTENV: OptionalPath = ".env"
    """The ``.env`` file loaded (without overriding the environment) the first time a file
    imports ``motia``, as Motia's command line loads it; relative to the folder the process
    runs in. None (or empty) loads none."""
    STEPS_TRACE_EVENTS_KEPT: NonNegativeInt = 100_000
    """Stream changes, enqueues and socket counts kept for the dashboard's trace view (the
    newest this many of each); 0 records none (traces then show step runs and dead letters)."""

    @classmethod
    def derived_defaults(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "STEPS_VALIDATE_RESPONSES": bool(values.get("DEBUG", False)),
            "STEPS_EMBEDDED_WORKER": is_in_process_broker(values.get("CELERY_BROKER_URL")),
        }


app_settings = AppSettings(StepsSettings, "STEPS_")
"""How ``steps`` reads its settings: :meth:`~streams.conf.AppSettings.read`, the checks'
``problems``."""
engine_settings = app_settings.lazy
"""Every setting of ``steps``, read as ``engine_settings.STEPS_EMBEDDED_WORKER``."""
