"""Atomic update operations on a stream item, as pure functions.

An update is a list of ops applied in order to a copy of the item; if any op cannot apply, the
whole update fails with :class:`UpdateOpError` and the item is left as it was.

A path names a nested object field in one of two forms: a dot-separated string
(``"metadata.completedBy"``, the engine's own form), or a list of segments
(``["metadata", "completedBy"]``, as Motia's newer engine writes it), where every segment is
a literal key: ``["a.b"]`` is the field named ``a.b``, never ``a`` then ``b``.
"""

import copy
from collections.abc import Iterable, Mapping
from numbers import Number
from typing import Any

OP_TYPES = ("set", "merge", "increment", "decrement", "append", "remove")


class UpdateOpError(ValueError):
    """An update op is malformed or cannot apply to the item (the item is unchanged)."""

    def __init__(self, message: str, index: int | None = None) -> None:
        self.index = index
        super().__init__(message if index is None else f"op {index}: {message}")


def split_path(path: Any, *, required: bool) -> list[str]:
    """The segments of a path: ``"a.b.c"`` and ``["a", "b", "c"]`` are ``["a", "b", "c"]``;
    an absent path (None, ``""`` or ``[]``) is the item's root, ``[]``."""
    parts: list[str]
    if isinstance(path, str) and path:  # the common case, first: every op names a path
        parts = path.split(".")
    elif path is None or (isinstance(path, str | list | tuple) and not path):
        if required:
            raise UpdateOpError("'path' is required")
        return []
    elif isinstance(path, list | tuple) and all(isinstance(part, str) for part in path):
        parts = list(path)
    else:
        raise UpdateOpError("'path' must be a string or a list of strings")
    if "" in parts:
        raise UpdateOpError(f"path {path!r} has an empty segment")
    return parts


def path_label(parts: list[str]) -> str:
    """How an error names a path: dotted, unless a segment holds a dot itself."""
    return str(parts) if any("." in part for part in parts) else ".".join(parts)


def _parent(item: dict[str, Any], parts: list[str], *, create: bool) -> dict[str, Any] | None:
    """The object holding the last segment of ``parts``; creates missing objects if asked."""
    node = item
    for depth, name in enumerate(parts[:-1]):
        child = node.get(name)
        if child is None:
            if not create:
                return None
            child = node[name] = {}
        elif not isinstance(child, dict):
            raise UpdateOpError(f"{path_label(parts[: depth + 1])!r} is not an object")
        node = child
    return node


def _created_parent(item: dict[str, Any], parts: list[str]) -> dict[str, Any]:
    parent = _parent(item, parts, create=True)
    assert parent is not None
    return parent


def _is_number(value: Any) -> bool:
    # int and float answer before the (slower) check against the Number ABC.
    kind = type(value)
    return (
        kind is int or kind is float or (isinstance(value, Number) and not isinstance(value, bool))
    )


# The types of JSON's scalars, which a copy shares: none of them can change.
_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value, several times faster than ``copy.deepcopy``: dicts and
    lists are copied, scalars shared; any other type (or a subclass) goes to ``deepcopy``.
    Unlike ``deepcopy`` it copies a dict or list that occurs twice as two, which stored items
    (decoded from JSON) never hold."""
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _JSON_SCALARS else copy_json(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _JSON_SCALARS else copy_json(v) for v in value]
    if kind in _JSON_SCALARS:
        return value
    return copy.deepcopy(value)


def _value(op: Mapping[str, Any]) -> Any:
    if "value" not in op:
        raise UpdateOpError("'value' is required")
    return copy.deepcopy(op["value"])


def _apply_set(item: dict[str, Any], op: Mapping[str, Any]) -> None:
    value = _value(op)
    parts = split_path(op.get("path"), required=True)
    _created_parent(item, parts)[parts[-1]] = value


def _apply_merge(item: dict[str, Any], op: Mapping[str, Any]) -> None:
    value = op.get("value")
    if not isinstance(value, Mapping):
        raise UpdateOpError("'value' of a merge must be an object")
    parts = split_path(op.get("path"), required=False)
    if not parts:
        item.update(copy.deepcopy(dict(value)))
        return
    parent = _created_parent(item, parts)
    target = parent.get(parts[-1])
    if target is None:
        target = parent[parts[-1]] = {}
    elif not isinstance(target, dict):
        raise UpdateOpError(f"cannot merge into {path_label(parts)!r}: it is not an object")
    target.update(copy.deepcopy(dict(value)))


def _apply_add(item: dict[str, Any], op: Mapping[str, Any], sign: int) -> None:
    by = op.get("by", 1)
    if not _is_number(by):
        raise UpdateOpError("'by' must be a number")
    parts = split_path(op.get("path"), required=True)
    parent = _created_parent(item, parts)
    current = parent.get(parts[-1], 0)
    if current is None:
        current = 0
    if not _is_number(current):
        raise UpdateOpError(f"cannot {op['type']} {path_label(parts)!r}: it is not a number")
    parent[parts[-1]] = current + sign * by


def _apply_append(item: dict[str, Any], op: Mapping[str, Any]) -> None:
    """Append ``value`` to the list at ``path``: a missing (or null) field becomes
    ``[value]``; a field that holds anything but a list is an error."""
    value = _value(op)
    parts = split_path(op.get("path"), required=True)
    parent = _created_parent(item, parts)
    target = parent.get(parts[-1])
    if target is None:
        parent[parts[-1]] = [value]
    elif isinstance(target, list):
        target.append(value)
    else:
        kind = type(target).__name__
        raise UpdateOpError(f"cannot append to {path_label(parts)!r}: it is a {kind}, not a list")


def _apply_remove(item: dict[str, Any], op: Mapping[str, Any]) -> None:
    parts = split_path(op.get("path"), required=True)
    parent = _parent(item, parts, create=False)
    if parent is not None:
        parent.pop(parts[-1], None)


def apply_op(item: dict[str, Any], op: Mapping[str, Any]) -> None:
    """Apply one op to ``item`` in place."""
    if type(op) is not dict and not isinstance(op, Mapping):  # a dict skips the ABC check
        raise UpdateOpError("an op must be an object with a 'type'")
    kind = op.get("type")
    if kind == "set":
        _apply_set(item, op)
    elif kind == "merge":
        _apply_merge(item, op)
    elif kind == "increment":
        _apply_add(item, op, 1)
    elif kind == "decrement":
        _apply_add(item, op, -1)
    elif kind == "append":
        _apply_append(item, op)
    elif kind == "remove":
        _apply_remove(item, op)
    else:
        raise UpdateOpError(f"unknown op type {kind!r}; expected one of {', '.join(OP_TYPES)}")


def apply_ops(item: Mapping[str, Any] | None, ops: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Return a new item: ``item`` (``{}`` when missing) with every op applied in order.
    ``item`` is a stored item, plain JSON (see :func:`copy_json`); it is never changed."""
    if type(ops) is not list and isinstance(ops, Mapping | str | bytes):
        raise UpdateOpError("ops must be a list of op objects")
    result: dict[str, Any] = copy_json(dict(item)) if item is not None else {}
    for index, op in enumerate(ops):
        try:
            apply_op(result, op)
        except UpdateOpError as error:
            raise UpdateOpError(str(error), index) from None
    return result
