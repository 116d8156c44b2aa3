"""Stream definitions: :class:`StreamConfig` and validation of items against its schema."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import jsonschema
import orjson
import pydantic

JoinHook = Callable[..., Awaitable[Any] | Any]


class DefinesStream(Protocol):
    """A stream definition of another shape (Motia's ``StreamConfig``, from the steps app)
    that gives the engine's config: the registry takes it without importing its class."""

    def as_stream_config(self) -> "StreamConfig": ...


def field_errors(error: pydantic.ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors as plain ``{"loc", "msg", "type"}`` dicts (JSON-ready)."""
    return [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in error.errors(include_url=False)
    ]


def json_schema_errors(
    validator: jsonschema.protocols.Validator, instance: Any
) -> list[dict[str, Any]]:
    """What ``validator`` finds wrong with ``instance``, as :func:`field_errors` gives
    pydantic's: a missing property is located at the property itself (type ``missing``)."""
    errors = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        loc, kind = list(error.absolute_path), str(error.validator)
        if kind == "required":
            names = error.validator_value if isinstance(error.validator_value, list) else []
            missing = [name for name in names if error.message.startswith(repr(name))]
            loc, kind = loc + missing[:1], "missing"
        errors.append({"loc": loc, "msg": error.message, "type": kind})
    return errors


def describe_errors(errors: list[dict[str, Any]], whole: str) -> str:
    """``"a.b: msg; c: msg"``; an error about the whole value is named ``whole``."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or whole}: {e['msg']}" for e in errors)


class StreamConfigError(ValueError):
    """A stream's ``config`` is not valid. Raised where the config is made (in its
    ``*_stream.py`` module), the registry keeps it and ``manage.py check`` reports it."""


class StreamValidationError(ValueError):
    """An item does not match its stream's schema; nothing was stored.

    ``errors`` is a list of ``{"loc": [...], "msg": str, "type": str}``, like pydantic's.
    """

    def __init__(self, stream_name: str, errors: list[dict[str, Any]]) -> None:
        self.stream_name = stream_name
        self.errors = errors
        summary = describe_errors(errors, "<item>")
        super().__init__(f"invalid item for stream {stream_name!r}: {summary}")


@dataclass
class StreamConfig:
    """A named stream of schema-typed items, with optional join/leave hooks.

    ``schema`` is a pydantic model class, a JSON-schema dict, or None (any JSON object).
    ``on_join(subscription, ctx, auth_context)`` may return ``{"unauthorized": True}`` to refuse
    a join; ``on_leave(subscription, ctx, auth_context)`` runs when a subscription ends. Either
    may be a plain or an async function.
    """

    name: str
    schema: type[pydantic.BaseModel] | Mapping[str, Any] | None = None
    base_config: dict[str, Any] = field(default_factory=lambda: {"storage_type": "default"})
    on_join: JoinHook | None = None
    on_leave: JoinHook | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise StreamConfigError("a stream needs a non-empty string 'name'")
        base = self.base_config
        storage = base.get("storage_type", base.get("storageType", "default"))
        if storage != "default":
            raise StreamConfigError(f"stream {self.name!r}: unsupported storage_type {storage!r}")
        if isinstance(self.schema, Mapping):
            try:
                jsonschema.Draft202012Validator.check_schema(self.schema)
            except jsonschema.SchemaError as error:
                raise StreamConfigError(
                    f"stream {self.name!r}: 'schema': {error.message}"
                ) from None
        elif self.schema is not None and not (
            isinstance(self.schema, type) and issubclass(self.schema, pydantic.BaseModel)
        ):
            raise StreamConfigError(
                f"stream {self.name!r}: 'schema' must be a pydantic model class, a JSON-schema "
                f"dict or None, not {self.schema!r}"
            )
        for hook in ("on_join", "on_leave"):
            if getattr(self, hook) is not None and not callable(getattr(self, hook)):
                raise StreamConfigError(f"stream {self.name!r}: {hook!r} must be a function")

    @classmethod
    def from_value(cls, value: "StreamDefinition") -> "StreamConfig":
        """Accept a StreamConfig, Motia's dict form (``baseConfig``/``onJoin``
        spelled either way, a ``description``), or an object that gives a StreamConfig
        (:class:`DefinesStream`)."""
        if isinstance(value, StreamConfig):
            return value
        defines = getattr(value, "as_stream_config", None)
        if callable(defines):
            config = defines()
            if not isinstance(config, StreamConfig):
                raise StreamConfigError(f"{value!r} gave no StreamConfig")
            return config
        if not isinstance(value, Mapping):
            raise StreamConfigError("a stream 'config' must be a StreamConfig or a dict")
        aliases = {"baseConfig": "base_config", "onJoin": "on_join", "onLeave": "on_leave"}
        # Motia's configs may describe the stream: it says nothing the engine uses.
        kwargs = {
            aliases.get(key, key): item for key, item in value.items() if key != "description"
        }
        unknown = sorted(set(kwargs) - set(cls.__dataclass_fields__))
        if unknown:
            raise StreamConfigError(f"a stream 'config' has unknown keys {unknown}")
        if "name" not in kwargs:
            raise StreamConfigError("a stream needs a non-empty string 'name'")
        return cls(**kwargs)

    def validate(self, item: Any) -> dict[str, Any]:
        """Return the item as it will be stored, or raise :class:`StreamValidationError`.

        Fields the schema does not declare are kept; defaults the schema declares are filled.
        """
        if not isinstance(item, Mapping):
            raise StreamValidationError(
                self.name, [{"loc": [], "msg": "an item must be a JSON object", "type": "type"}]
            )
        item = dict(item)
        if self.schema is None:
            return _json_roundtrip(self.name, item)
        if isinstance(self.schema, Mapping):
            return self._validate_json_schema(item)
        return self._validate_model(item)

    def _validate_model(self, item: dict[str, Any]) -> dict[str, Any]:
        assert isinstance(self.schema, type)
        try:
            model = self.schema.model_validate(item)
        except pydantic.ValidationError as error:
            raise StreamValidationError(self.name, field_errors(error)) from None
        dumped = model.model_dump(mode="json", by_alias=True)
        result = dict(item)
        for key, value in dumped.items():
            # An optional field left out stays out (not stored as null), as zod leaves it out.
            if key in item or value is not None:
                result[key] = value
        return _json_roundtrip(self.name, result)

    def _validate_json_schema(self, item: dict[str, Any]) -> dict[str, Any]:
        assert isinstance(self.schema, Mapping)
        errors = json_schema_errors(jsonschema.Draft202012Validator(self.schema), item)
        if errors:
            raise StreamValidationError(self.name, errors)
        return _json_roundtrip(self.name, item)


# What the registry takes as a stream's definition.
StreamDefinition = StreamConfig | Mapping[str, Any] | DefinesStream


def _json_roundtrip(stream_name: str, item: dict[str, Any]) -> dict[str, Any]:
    """Check that the item is plain JSON (what the database and the wire will hold)."""
    try:
        plain: dict[str, Any] = orjson.loads(orjson.dumps(item))
    except TypeError as error:
        raise StreamValidationError(
            stream_name, [{"loc": [], "msg": f"not JSON-serialisable: {error}", "type": "json"}]
        ) from None
    return plain
