"""Records: dicts whose keys also read as attributes (pure).

Motia's engine hands stream- and state-triggered handlers plain dicts, while Motia's own
examples read them as objects (``input.event.type``, ``input.group_id``). A record is both:
a ``dict`` (``input["groupId"]``, ``input.get("group_id")``, ``isinstance(input, dict)``) whose
keys, and their other spelling, read as attributes.
"""

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic.alias_generators import to_camel, to_snake


class Record(dict[str, Any]):
    """A dict of JSON-like values with attribute access.

    ``fields`` lists the keys a record of the class always has, in their stored spelling
    (missing ones are None); a key may be read in snake_case or camelCase either way.
    Nested dicts read as records too (``input.event.type``)."""

    fields: ClassVar[tuple[str, ...]] = ()
    # Other names of a stored key: {"scope": "group_id"}.
    aliases: ClassVar[Mapping[str, str]] = {}

    def __init__(self, data: Mapping[str, Any] | None = None, /, **values: Any) -> None:
        super().__init__()
        for key in self.fields:
            self[key] = None
        for key, value in {**(data or {}), **values}.items():
            self[self._stored(key)] = value

    @classmethod
    def model_validate(cls, data: Mapping[str, Any]) -> Self:
        """Build one from a dict in either spelling (as the pydantic models of Motia)."""
        return cls(data)

    def _stored(self, key: str) -> str:
        """The spelling under which ``key`` is stored (itself when unknown)."""
        if dict.__contains__(self, key) or key in self.fields:
            return key
        key = self.aliases.get(key, key)
        for spelling in (key, to_camel(key), to_snake(key)):
            if dict.__contains__(self, spelling) or spelling in self.fields:
                return spelling
        return key

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__(self._stored(key))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and dict.__contains__(self, self._stored(key))

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(self._stored(key), default)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        stored = self._stored(name)
        if not dict.__contains__(self, stored):
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        value = dict.__getitem__(self, stored)
        return Record(value) if type(value) is dict else value

    def __setattr__(self, name: str, value: Any) -> None:
        self[self._stored(name)] = value

    def model_dump(
        self, *, by_alias: bool = False, exclude_none: bool = False, **_: Any
    ) -> dict[str, Any]:
        """The record as a plain dict: keys in snake_case, or camelCase with ``by_alias``."""
        spell = to_camel if by_alias else to_snake
        return {
            spell(key): _plain(value)
            for key, value in self.items()
            if not (exclude_none and value is None)
        }


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return dict(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
