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
    if b"\\u0000" not in encoded:
        return value
    return orjson.loads(encoded.replace(b"\\u0000", REPLACEMENT.encode()))
