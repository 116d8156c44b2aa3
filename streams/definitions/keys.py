"""What a group or item id may be: the rule the store, the protocol and step fields share."""

from typing import Any

MAX_KEY_LENGTH = 255


def key_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a group or item id, or None when it can."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > MAX_KEY_LENGTH:
        return f"is longer than {MAX_KEY_LENGTH} characters"
    if "\x00" in value:
        # PostgreSQL's text refuses NUL; SQLite would keep it: refuse it on both.
        return "must not contain the NUL character"
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            return "must be valid Unicode (no lone surrogates)"
    return None
