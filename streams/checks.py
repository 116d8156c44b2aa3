"""System checks of the settings of ``streams`` (:mod:`streams.conf`) and of the project's stream
definitions: ``manage.py check``, and ``runserver`` as it starts, name each setting the engine
cannot use and each stream module it could not load, and why. The app registers them as it gets
ready; :func:`check_app_settings` serves the ``steps`` app's checks of its own settings too.

- ``streams.E001``: a setting's value is not what it must be (a negative limit, a word
  where a number goes, an origin without its scheme).
- ``streams.E002``: a dotted path (``STREAMS_AUTHENTICATE``, ``STREAMS_TOKEN_VERIFIER``)
  that cannot be imported, or does not name a function.
- ``streams.E003``: a ``*_stream.py`` module whose ``config`` is missing or not valid.
- ``streams.E004``: two modules define a stream of the same name.
- ``streams.E005``: no channel layer (``CHANNEL_LAYERS["default"]``), which carries every
  committed change to the sockets.
- ``streams.W002``: a ``STREAMS_*`` setting the engine does not have (a typo: the engine would
  use the default instead).
- ``streams.W003``: a PostgreSQL pool that does not check the connections it hands out
  (``CONN_HEALTH_CHECKS``): after a restart of the database, the first queries of Django's
  own threads fail.
- ``streams.W004``: a PostgreSQL pool that connects again on psycopg_pool's doubling pause:
  after an outage, connections may come back a minute after the database.
"""

import difflib
from collections.abc import Callable, Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.utils.module_loading import import_string
from pydantic import ValidationError

from .conf import AppSettings, SettingsT, StreamsSettings, app_settings
from .definitions import registry
from .runtime import in_apps, pool_problems

TAG = "streams"
"""The tag of the stream definitions' checks (``manage.py check --tag streams``)."""


def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """The settings of ``streams`` and what they depend on (the channel layer, the pools)."""
    return check_app_settings(app_settings, "streams.E001", "streams.W002", _settings_problems)


def _settings_problems(engine: StreamsSettings) -> list[CheckMessage]:
    return [*_dotted_path_errors(engine), *_channel_layer_errors(), *_database_pool_problems()]


def check_app_settings(
    app: AppSettings[SettingsT],
    invalid_id: str,
    unknown_id: str,
    more: Callable[[SettingsT], list[CheckMessage]],
) -> list[CheckMessage]:
    """The checks of an app's settings: an error ``invalid_id`` for each invalid one, naming
    what it must be (and then nothing else); else the checks ``more`` of the valid settings,
    and a warning ``unknown_id`` for each Django setting that starts with the app's prefix and
    is none of its settings (a typo: the default would be used instead)."""
    try:
        values = app.read(settings)
    except ValidationError as error:
        return [
            Error(message, hint=app.describe(name).replace("``", "`"), id=invalid_id)
            for name, message in app.problems(error)
        ]
    return [*more(values), *_unknown_settings(app, unknown_id)]


def _unknown_settings(app: AppSettings[Any], id: str) -> list[CheckMessage]:
    known = list(app.model.model_fields)
    warnings: list[CheckMessage] = []
    for name in dir(settings):
        if not name.startswith(app.prefix) or name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1)
        where = app.model.__module__
        hint = f"Did you mean {close[0]}?" if close else f"The settings are in {where}."
        warnings.append(Warning(f"{name} is not a setting of the engine", hint=hint, id=id))
    return warnings


def _database_pool_problems() -> list[CheckMessage]:
    hint = (
        "Set CONN_HEALTH_CHECKS = True and give the pool streams.runtime.liveness.POOL_OPTIONS: "
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


def _dotted_path_errors(engine: StreamsSettings) -> list[CheckMessage]:
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
