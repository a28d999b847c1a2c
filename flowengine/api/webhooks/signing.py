"""The webhook signature: `X-VoIPBIN-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`."""
from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

SIGNATURE_HEADER = "X-VoIPBIN-Signature"


def sign(secret: str | SecretStr, body: bytes) -> str:
    """The `X-VoIPBIN-Signature` value: `sha256=<hex HMAC-SHA256(secret, body)>`."""
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
