"""Values as the database can keep them, whatever a handler logged or raised.

PostgreSQL refuses the NUL character in text and jsonb (SQLite keeps it), and a step's logs,
errors and messages may carry whatever a client sent. A step run or dead letter that the
database refuses would be retried for ever, so NUL is written as U+FFFD (the replacement
character) in what the engine records about runs; stream items refuse NUL instead.
"""

from typing import Any

import orjson

REPLACEMENT = "\ufffd"


def storable_text(text: str) -> str:
    return text.replace("\x00", REPLACEMENT) if "\x00" in text else text


def storable_json(value: Any) -> Any:
    """``value`` with NUL replaced in every string and key (unchanged when it has none)."""
    try:
        encoded = orjson.dumps(value, default=str)
    except TypeError:  # not JSON at all: the field's own encoder will say so
        return value
    # A quick look first (a string holding a backslash then "u0000" matches too: the walk
    # then changes nothing; replacing in the encoded text would break its escape).
    if b"\\u0000" not in encoded:
        return value
    return _without_nul(value)


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return storable_text(str(value))  # as the check above encoded it
