"""The socket side: the stream consumer (:mod:`.consumers`) and what it speaks
(:mod:`.protocol`); who may connect (:mod:`.origins`, :mod:`.hosts`, :mod:`.refusals`,
:mod:`.auth`, :mod:`.tokens`, :mod:`.redaction`) and the ``ctx`` of stream hooks
(:mod:`.context`); the answers to joins (:mod:`.snapshots`, :mod:`.answers`,
:mod:`.paging`); and the outgoing side of a socket (:mod:`.writer`, :mod:`.outbox`,
:mod:`.transports`, :mod:`.framing`, :mod:`.corking`, :mod:`.send_in_caller`).
"""

from typing import TYPE_CHECKING

from ..runtime import LazyExports

if TYPE_CHECKING:
    from . import protocol
    from .auth import StreamAuthRequest, scope_header, session_user
    from .consumers import StreamConsumer
    from .context import StreamContext
    from .hosts import refused_host
    from .origins import OriginCheck
    from .protocol import Subscription
    from .redaction import redact_server_logs
    from .refusals import refuse_handshake, send_http_error
    from .tokens import issue_token, page_token, verify_token

__all__ = [
    "OriginCheck",
    "StreamAuthRequest",
    "StreamConsumer",
    "StreamContext",
    "Subscription",
    "issue_token",
    "page_token",
    "protocol",
    "redact_server_logs",
    "refuse_handshake",
    "refused_host",
    "scope_header",
    "send_http_error",
    "session_user",
    "verify_token",
]

__getattr__ = LazyExports(
    __name__,
    {
        "auth": ["StreamAuthRequest", "scope_header", "session_user", "verify_token"],
        "consumers": ["StreamConsumer"],
        "context": ["StreamContext"],
        "hosts": ["refused_host"],
        "origins": ["OriginCheck"],
        "protocol": ["Subscription"],
        "redaction": ["redact_server_logs"],
        "refusals": ["refuse_handshake", "send_http_error"],
        "tokens": ["issue_token", "page_token", "verify_token"],
    },
    modules=["protocol"],
)
