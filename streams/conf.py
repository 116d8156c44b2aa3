"""The settings of ``streams``, with their defaults and what they mean, in one place (as
django-ninja's ``ninja.conf``), and the machinery that reads an app's settings (which the
``steps`` app's own ``steps.conf`` uses too).

A project sets the ones it changes in its Django settings, under these names, and leaves the
others out. The engine reads them as ``engine_settings.STREAMS_MAX_FRAME_BYTES``: parsed once
(text such as an environment variable's is parsed too: ``"65536"``, ``"off"``), kept, and read
again when Django says a setting changed (``override_settings`` in tests). A value the engine
cannot use is a system check error (:mod:`streams.checks`), and ``ImproperlyConfigured`` when
it is read.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Generic, TypeVar, cast
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


class Settings(BaseModel):
    """The base of an app's settings: each field is a setting, with its type, its default and,
    as its docstring, what it means. Defaults that depend on other Django settings (those named
    in ``derived_from``) come from :meth:`derived_defaults` when the setting is unset."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)

    derived_from: ClassVar[tuple[str, ...]] = ()
    """Other Django settings that some defaults are derived from, read along with the app's."""

    @classmethod
    def derived_defaults(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """The defaults derived from ``values`` (the Django settings of ``derived_from``)."""
        return {}

    @model_validator(mode="before")
    @classmethod
    def _derive_defaults(cls, values: Any) -> Any:
        if not isinstance(values, Mapping):
            return values
        return {**cls.derived_defaults(values), **values}


SettingsT = TypeVar("SettingsT", bound=Settings)


class AppSettings(Generic[SettingsT]):
    """One app's settings as the app reads them: its :class:`Settings` model read from Django's
    settings on first use, kept, and read again when Django says a setting changed. ``prefix``
    is the start of every one of its names (``STREAMS_``): the checks warn of a setting that
    starts with it and is none of the app's."""

    def __init__(self, model: type[SettingsT], prefix: str) -> None:
        self.model = model
        self.prefix = prefix
        self._current: SettingsT | None = None
        self._lazy = _LazySettings(self)
        # Any setting may change a derived default (DEBUG, DATABASES ...): forget them all.
        setting_changed.connect(self._forget, weak=False, dispatch_uid=f"{prefix}settings")

    @property
    def lazy(self) -> SettingsT:
        """Reads each setting as an attribute, from :meth:`current`; typed as the model, so
        that every setting keeps its type where it is used."""
        return cast(SettingsT, self._lazy)

    def read(self, source: object) -> SettingsT:
        """The settings of a settings object (Django's, or any with those attributes); raises
        pydantic's ``ValidationError`` when one is invalid."""
        names = (*self.model.model_fields, *self.model.derived_from)
        return self.model.model_validate(
            {name: getattr(source, name) for name in names if hasattr(source, name)}
        )

    def current(self) -> SettingsT:
        """The settings of the Django settings, parsed on first use."""
        if self._current is None:
            try:
                self._current = self.read(django_settings)
            except PydanticValidationError as error:
                lines = [message for _, message in self.problems(error)]
                raise ImproperlyConfigured("; ".join(lines)) from None
        return self._current

    def problems(self, error: PydanticValidationError) -> Iterator[tuple[str, str]]:
        """``(setting, "<SETTING> must be ... (got ...)")`` for each invalid setting of
        ``error``, once per setting."""
        seen = set()
        for detail in error.errors():
            name = str(detail["loc"][0]) if detail["loc"] else ""
            if name in seen or name not in self.model.model_fields:
                continue
            seen.add(name)
            # Inside a list, the input is the item that failed: the one to show.
            yield name, f"{name} must be {self.expected(name)} (got {detail['input']!r})"

    def expected(self, name: str) -> str:
        """What the setting ``name`` must be, from its type's :class:`Must`."""
        metadata = self.model.model_fields[name].metadata
        musts = [m for m in metadata if isinstance(m, Must)]
        return musts[-1].text if musts else "valid"

    def describe(self, name: str) -> str:
        """What the setting ``name`` means (its docstring), on one line."""
        return " ".join(str(self.model.model_fields[name].description).split())

    def _forget(self, **kwargs: Any) -> None:
        self._current = None
        self._lazy.forget()


class _LazySettings:
    """Reads each setting from its app's :meth:`AppSettings.current` once, then keeps it as an
    attribute of its own: some are read for every frame, and a plain attribute costs a tenth of
    a miss that falls through to ``__getattr__``. :meth:`forget` drops them when a Django
    setting changes."""

    __slots__ = ("__dict__", "_app")

    def __init__(self, app: AppSettings[Any]) -> None:
        self._app = app

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._app.current(), name)
        self.__dict__[name] = value
        return value

    def forget(self) -> None:
        self.__dict__.clear()


# --- streams' settings ----------------------------------------------------------------------


def is_sqlite(databases: Mapping[str, Any]) -> bool:
    """Whether the default database is SQLite (Django's backend or one built on it)."""
    return str(databases.get("default", {}).get("ENGINE", "")).endswith("sqlite3")


class StreamsSettings(Settings):
    """Every setting of ``streams`` with its default. ``STREAMS_DB_THREADS`` is derived from
    ``DATABASES`` when unset."""

    derived_from = ("DATABASES",)

    # --- streams: the WebSocket ---------------------------------------------------------

    STREAMS_AUTHENTICATE: OptionalDottedPath = None
    """Dotted path of ``authenticate_stream(request, ctx)``, run on every handshake; None lets
    every handshake in."""
    STREAMS_TOKEN_VERIFIER: DottedPath = "streams.sockets.verify_token"
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

    @classmethod
    def derived_defaults(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        return {"STREAMS_DB_THREADS": 1 if is_sqlite(values.get("DATABASES") or {}) else 4}


app_settings = AppSettings(StreamsSettings, "STREAMS_")
"""How ``streams`` reads its settings: :meth:`AppSettings.read`, the checks' ``problems``."""
engine_settings = app_settings.lazy
"""Every setting of ``streams``, read as ``engine_settings.STREAMS_MAX_FRAME_BYTES``."""
