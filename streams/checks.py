"""System checks of the engine's settings (:mod:`streams.conf`) and of the project's stream
definitions: ``manage.py check``, and ``runserver`` as it starts, name each setting the engine
cannot use and each stream module it could not load, and why.

- ``streams.E001``: a setting's value is not what it must be (a negative limit, a word
  where a number goes, an origin without its scheme).
- ``streams.E002``: a dotted path (``STREAMS_AUTHENTICATE``, ``STREAMS_TOKEN_VERIFIER``)
  that cannot be imported, or does not name a function.
- ``streams.E003``: a ``*_stream.py`` module whose ``config`` is missing or not valid.
- ``streams.E004``: two modules define a stream of the same name.
- ``streams.E005``: no channel layer (``CHANNEL_LAYERS["default"]``), which carries every
  committed change to the sockets.
- ``streams.W001``: workers beat less often than the health check lets a beat age, so a
  healthy worker would count as down between two beats.
- ``streams.W002``: a ``STREAMS_*`` or ``STEPS_*`` setting the engine does not have (a typo:
  the engine would use the default instead).
- ``streams.W003``: a PostgreSQL pool that does not check the connections it hands out
  (``CONN_HEALTH_CHECKS``): after a restart of the database, the first queries of Django's
  own threads fail.
- ``streams.W004``: a PostgreSQL pool that connects again on psycopg_pool's doubling pause:
  after an outage, connections may come back a minute after the database.
"""

import difflib
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.module_loading import import_string
from pydantic import ValidationError

from .conf import EngineSettings, problems, read
from .discovery import in_apps
from .liveness import pool_problems
from .registry import registry

TAG = "streams"
"""The tag of the stream definitions' checks (``manage.py check --tag streams``)."""


def _hint(name: str) -> str:
    description = str(EngineSettings.model_fields[name].description).replace("``", "`")
    return " ".join(description.split())


@register()
def check_engine_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    try:
        engine = read(settings)
    except ValidationError as error:
        return [
            Error(message, hint=_hint(name), id="streams.E001") for name, message in problems(error)
        ]
    return [
        *_dotted_path_errors(engine),
        *_heartbeat_warnings(engine),
        *_unknown_settings(),
        *_channel_layer_errors(),
        *_database_pool_problems(),
    ]


def _database_pool_problems() -> list[CheckMessage]:
    hint = (
        "Set CONN_HEALTH_CHECKS = True and give the pool streams.liveness.POOL_OPTIONS: "
        '"OPTIONS": {"pool": {**POOL_OPTIONS, "max_size": ...}}.'
    )
    return [
        Warning(f'the connection pool of database "{alias}" {problem}', hint=hint, id=code)
        for alias, settings_dict in settings.DATABASES.items()
        for code, problem in pool_problems(settings_dict)
    ]


def _channel_layer_errors() -> list[CheckMessage]:
    if "default" in getattr(settings, "CHANNEL_LAYERS", {}):
        return []
    return [
        Error(
            'CHANNEL_LAYERS has no "default" layer: stream changes could not reach any socket',
            hint='One process: {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}};'
            " several: channels_redis.pubsub.RedisPubSubChannelLayer on Redis.",
            id="streams.E005",
        )
    ]


def _dotted_path_errors(engine: EngineSettings) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name in ("STREAMS_AUTHENTICATE", "STREAMS_TOKEN_VERIFIER"):
        path = getattr(engine, name)
        if path is None:
            continue
        try:
            target = import_string(path)
        except Exception as error:  # whatever importing its module raised
            problem = f"cannot be imported ({type(error).__name__}: {error})"
        else:
            if callable(target):
                continue
            problem = f"is a {type(target).__name__}, not a function"
        errors.append(Error(f"{name} names {path!r}, which {problem}", id="streams.E002"))
    return errors


def _heartbeat_warnings(engine: EngineSettings) -> list[CheckMessage]:
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
            id="streams.W001",
        )
    ]


def _unknown_settings() -> list[CheckMessage]:
    known = list(EngineSettings.model_fields)
    warnings: list[CheckMessage] = []
    for name in dir(settings):
        if not name.startswith(("STREAMS_", "STEPS_")) or name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"Did you mean {close[0]}?" if close else "The engine's are in streams.conf."
        warnings.append(
            Warning(f"{name} is not a setting of the engine", hint=hint, id="streams.W002")
        )
    return warnings


@register(TAG)
def check_stream_definitions(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """The stream modules the registry could not load (of ``app_configs`` only, if given)."""
    return [
        Error(
            error.message,
            obj=error.module,
            id="streams.E004" if error.kind == "duplicate" else "streams.E003",
        )
        for error in registry.errors
        if app_configs is None or in_apps(error.module, app_configs)
    ]
