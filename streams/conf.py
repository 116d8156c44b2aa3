"""The engine's settings: every setting of ``streams`` and ``steps``, with its default and what
it means, in one place (as django-ninja's ``ninja.conf``).

A project sets the ones it changes in its Django settings, under these names, and leaves the
others out. The engine reads them as ``engine_settings.STREAMS_MAX_FRAME_BYTES``: parsed once
(text such as an environment variable's is parsed too: ``"65536"``, ``"off"``), kept, and read
again when Django says a setting changed (``override_settings`` in tests). A value the engine
cannot use is a system check error (:mod:`streams.checks`), and ``ImproperlyConfigured`` when
it is read.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, cast
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError


@dataclass(frozen=True)
class Must:
    """What a setting's value must be, as its check error says it: ``<NAME> must be <text>``."""

    text: str


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _comma_separated(value: Any) -> Any:
    """A list as one string, as an environment variable holds it: ``"a, b"``."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _origin(value: str) -> str:
    """``*``, or a whole origin: ``https://app.example.com[:port]``, nothing after the host."""
    if value == "*":
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an origin")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("not an origin")
    return value


PositiveInt = Annotated[int, Field(gt=0), Must("a positive integer")]
NonNegativeInt = Annotated[int, Field(ge=0), Must("an integer, 0 or more")]
Seconds = Annotated[float, Field(gt=0), Must("a positive number of seconds")]
Flag = Annotated[bool, Must("True or False")]
DottedPath = Annotated[
    str, Field(pattern=r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$"), Must("a dotted path (module.name)")
]
OptionalDottedPath = Annotated[
    DottedPath | None, BeforeValidator(_blank_is_none), Must("a dotted path (module.name) or None")
]
OptionalPath = Annotated[
    str | None, BeforeValidator(_blank_is_none), Must("a file's path, or None")
]
Origins = Annotated[
    tuple[Annotated[str, AfterValidator(_origin)], ...],
    BeforeValidator(_comma_separated),
    Must("a list of origins (https://app.example.com) or '*', or one comma-separated string"),
]

# Other Django settings that some defaults are derived from.
DERIVED_FROM = ("DEBUG", "DATABASES", "CELERY_BROKER_URL")


def is_sqlite(databases: Mapping[str, Any]) -> bool:
    """Whether the default database is SQLite (Django's backend or one built on it)."""
    return str(databases.get("default", {}).get("ENGINE", "")).endswith("sqlite3")


def is_in_process_broker(broker_url: str | None) -> bool:
    """Whether Celery's broker is its in-process one (``memory://``, or none configured)."""
    return not broker_url or broker_url.startswith("memory://")


class EngineSettings(BaseModel):
    """Every engine setting with its default. Defaults that depend on other Django settings
    (``DEBUG``, ``DATABASES``, ``CELERY_BROKER_URL``) are derived from them when unset."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)

    # --- streams: the WebSocket ---------------------------------------------------------

    STREAMS_AUTHENTICATE: OptionalDottedPath = None
    """Dotted path of ``authenticate_stream(request, ctx)``, run on every handshake; None lets
    every handshake in."""
    STREAMS_TOKEN_VERIFIER: DottedPath = "streams.tokens.verify_token"
    """Dotted path of ``verify_token(token) -> {"id", "role"}``, for an ``authenticate_stream``
    that checks tokens (the default checks tokens signed with the project's secret key)."""
    STREAMS_ALLOWED_ORIGINS: Origins = ()
    """Origins of pages on other hosts that may open stream sockets (``*``: any); pages served
    from one of ``ALLOWED_HOSTS`` always may. Clients that send no ``Origin`` are not
    browsers and are let through (``STREAMS_AUTHENTICATE`` decides)."""
    STREAMS_MAX_FRAME_BYTES: PositiveInt = 64 * 1024
    """The largest client frame: a larger one closes the socket with 1009."""
    STREAMS_MAX_SUBSCRIPTIONS: PositiveInt = 500
    """Subscriptions one socket may hold; a join beyond is answered with an error frame."""
    STREAMS_MAX_PENDING_FRAMES: PositiveInt = 10_000
    """Frames that may wait for a slow reader before its socket is closed with 4008."""
    STREAMS_MAX_PENDING_BYTES: PositiveInt = 8 * 1024 * 1024
    """Bytes that may wait for a slow reader before its socket is closed with 4008."""
    STREAMS_SLOW_READER_TIMEOUT: Seconds = 10.0
    """Seconds one send may stay blocked before the socket is closed with 4008; then seconds
    the close may take before the connection is aborted."""
    STREAMS_SYNC_PAGE_BYTES: PositiveInt = 1024 * 1024
    """Bytes of items (or of replayed frames) a join's answer reads and sends at a time: a
    larger group is synced in pages to clients that take them (``syncPages``), and a replay
    is sent a page at a time as the socket takes it."""
    STREAMS_MAX_SYNC_BYTES: PositiveInt = 16 * 1024 * 1024
    """The largest group sent in one ``sync`` frame, to clients that do not take paged syncs
    (Motia's): the join of a larger group is answered with a ``group_too_large`` error."""

    # --- streams: the store -------------------------------------------------------------

    STREAMS_MAX_ITEM_BYTES: PositiveInt = 1024 * 1024
    """The largest stream item (encoded as JSON); a larger one is refused as invalid."""
    STREAMS_REPLAY_LOG_SIZE: NonNegativeInt = 1000
    """Frames of each group kept for clients that re-join with the last version they saw;
    0 keeps none (every re-join gets a ``sync``)."""
    STREAMS_DB_THREADS: PositiveInt
    """Threads that run the engine's queries, each keeping one connection. Default: 1 on
    SQLite (one writer at a time), 4 otherwise (leave room in the pool for Django's own)."""
    STREAMS_SYNC_THREADS: PositiveInt = 4
    """Threads that run plain (non-async) hooks and http handlers, each holding a connection
    while it runs."""

    # --- steps --------------------------------------------------------------------------

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

    @model_validator(mode="before")
    @classmethod
    def _derive_defaults(cls, values: Any) -> Any:
        if not isinstance(values, Mapping):
            return values
        derived = {
            "STREAMS_DB_THREADS": 1 if is_sqlite(values.get("DATABASES") or {}) else 4,
            "STEPS_VALIDATE_RESPONSES": bool(values.get("DEBUG", False)),
            "STEPS_EMBEDDED_WORKER": is_in_process_broker(values.get("CELERY_BROKER_URL")),
        }
        return {**derived, **values}


def read(source: object) -> EngineSettings:
    """The engine settings of a settings object (Django's, or any with those attributes);
    raises pydantic's ``ValidationError`` when one is invalid."""
    names = (*EngineSettings.model_fields, *DERIVED_FROM)
    return EngineSettings.model_validate(
        {name: getattr(source, name) for name in names if hasattr(source, name)}
    )


def problems(error: PydanticValidationError) -> Iterator[tuple[str, str]]:
    """``(setting, "<SETTING> must be ... (got ...)")`` for each invalid setting of ``error``,
    once per setting."""
    seen = set()
    for detail in error.errors():
        name = str(detail["loc"][0]) if detail["loc"] else ""
        if name in seen or name not in EngineSettings.model_fields:
            continue
        seen.add(name)
        # Inside a list, the input is the item that failed: the one to show.
        yield name, f"{name} must be {expected(name)} (got {detail['input']!r})"


def expected(name: str) -> str:
    """What the setting ``name`` must be, from its type's :class:`Must`."""
    musts = [m for m in EngineSettings.model_fields[name].metadata if isinstance(m, Must)]
    return musts[-1].text if musts else "valid"


@cache
def current() -> EngineSettings:
    """The engine settings of the Django settings, parsed on first use."""
    try:
        return read(django_settings)
    except PydanticValidationError as error:
        lines = [message for _, message in problems(error)]
        raise ImproperlyConfigured("; ".join(lines)) from None


class _LazyEngineSettings:
    """Reads each setting from :func:`current` once, then keeps it as an attribute of its own:
    some are read for every frame, and a plain attribute costs a tenth of a miss that falls
    through to ``__getattr__``. :meth:`forget` drops them when a Django setting changes."""

    def __getattr__(self, name: str) -> Any:
        value = getattr(current(), name)
        self.__dict__[name] = value
        return value

    def forget(self) -> None:
        self.__dict__.clear()


# Typed as what it reads through, so that every setting keeps its type where it is used.
_lazy_engine_settings = _LazyEngineSettings()
engine_settings = cast(EngineSettings, _lazy_engine_settings)


def _forget(**kwargs: Any) -> None:
    current.cache_clear()
    _lazy_engine_settings.forget()


# Any setting may change a derived default (DEBUG, DATABASES ...): forget them all.
setting_changed.connect(_forget, dispatch_uid="streams.conf")
