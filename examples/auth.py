"""The ``authenticate_stream`` of Motia's streaming guide, switched on with
``STREAMS_AUTHENTICATE=examples.auth.authenticate_stream``.

The token comes from the ``Authorization: Bearer`` header, the ``Authorization, <token>``
subprotocol pair (what browsers can send) or ``?authToken=``; it is checked by the function
named in ``STREAMS_TOKEN_VERIFIER`` (signed tokens by default, see
:mod:`streams.sockets.tokens`).
"""

from typing import Any

from django.utils.module_loading import import_string

from streams.conf import engine_settings
from streams.sockets import StreamAuthRequest


def token_from(req: StreamAuthRequest) -> str | None:
    header = req.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    protocols = req.subprotocols
    if len(protocols) >= 2 and protocols[0].lower() == "authorization":
        return protocols[1]
    return req.query.get("authToken") or None


def verify_token(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = import_string(engine_settings.STREAMS_TOKEN_VERIFIER)(token)
    return claims


async def authenticate_stream(req: StreamAuthRequest, context: Any) -> dict[str, Any]:
    token = token_from(req)
    if not token:
        context.logger.warning("No token provided")
        return {"unauthorized": True}
    try:
        user = verify_token(token)
        context.logger.info("Stream authenticated", {"userId": user["id"]})
        return {
            "unauthorized": False,
            "context": {"userId": user["id"], "role": user.get("role")},
        }
    except Exception as error:
        context.logger.error("Authentication failed", {"error": str(error)})
        return {"unauthorized": True}
