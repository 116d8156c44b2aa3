"""Signed stream tokens: a ready ``verify_token`` for the example ``authenticate_stream``.

A token is ``{"id": ..., "role": ...}`` signed with the project's SECRET_KEY and a timestamp;
make one with :func:`issue_token` (or ``manage.py stream_token``) and pass it as a bearer
token, as the ``Authorization`` subprotocol, or as ``?authToken=``.
"""

from typing import Any

from django.core import signing
from django.http import HttpRequest

from ..conf import engine_settings

SALT = "streams.token"
DEFAULT_MAX_AGE = 24 * 3600
# A subprotocol must be an HTTP token: Django's default ':' separator is not allowed there, '.'
# is, and the uncompressed payload is URL-safe base64 (compression would prefix another '.').
SEPARATOR = "."


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT, sep=SEPARATOR)


class InvalidToken(Exception):
    """The token is malformed, tampered with, or expired."""


def issue_token(user_id: str | int, role: str = "user", **claims: Any) -> str:
    return _signer().sign_object({"id": user_id, "role": role, **claims})


def verify_token(token: str, max_age: int = DEFAULT_MAX_AGE) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = _signer().unsign_object(token, max_age=max_age)
    except signing.SignatureExpired as error:
        raise InvalidToken(f"expired: {error}") from None
    except signing.BadSignature:
        # Django's message quotes the signature: a token's part must not reach a log line.
        raise InvalidToken("malformed, or signed with another key") from None
    return claims


def page_token(request: HttpRequest) -> str:
    """A token for the signed-in user of a page, which the page's scripts hand to the stream
    client, when stream authentication is on; empty otherwise (anonymous pages get none)."""
    if not engine_settings.STREAMS_AUTHENTICATE or not request.user.is_authenticated:
        return ""
    role = "staff" if request.user.is_staff else "user"
    return issue_token(request.user.pk, role=role)
