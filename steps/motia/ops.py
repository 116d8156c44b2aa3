"""Update ops as Motia writes them, in the engine's form (pure).

Motia's engine reads an op's ``path`` as one literal key of the value's top level:
``{"type": "increment", "path": "stats.views"}`` counts a key named ``stats.views``. A list of
strings is a path of nested keys. The engine's own dotted strings would split
``"stats.views"``, so each Motia path is handed over as a list of segments; ``prefix`` puts
the value under a key of its own (the state's values are stored wrapped).
"""

from collections.abc import Iterable, Mapping
from typing import Any


def engine_ops(ops: Any, prefix: tuple[str, ...] = ()) -> Any:
    """``ops`` with every path as a list of literal segments under ``prefix``. Whatever is not
    a list of op dicts is handed on as it is, for the engine to refuse with its reason."""
    if not isinstance(ops, Iterable) or isinstance(ops, Mapping | str | bytes):
        return ops
    return [_engine_op(op, prefix) for op in ops]


def _engine_op(op: Any, prefix: tuple[str, ...]) -> Any:
    if not isinstance(op, Mapping):
        return op
    path = op.get("path")
    if path is None or path == "":
        segments: list[Any] = []
    elif isinstance(path, str):
        segments = [path]
    elif isinstance(path, list | tuple):
        segments = list(path)
    else:
        return op
    converted = {key: value for key, value in op.items() if key != "path"}
    if prefix or segments:
        converted["path"] = [*prefix, *segments]
    return converted
