"""Signatures of function-tool requests: `X-Vapi-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`."""
from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Vapi-Signature"


def sign(secret: str, body: bytes) -> str:
    """The header value for `body`: the same scheme as VoIPBIN's X-VoIPBIN-Signature webhooks."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiving server does: recompute over the exact bytes received, compare in constant time."""
    return hmac.compare_digest(sign(secret, body), header or "")
