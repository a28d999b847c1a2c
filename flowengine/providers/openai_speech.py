"""What the OpenAI speech providers (transcription and voice) share: the `openai` client made from the speech
credentials, and how its errors become a refusal (never retried) or a transient fault (retried once by us)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowengine.providers.cloud import RefusedError, TransientError, tls_context
from flowengine.providers.credentials import Access

if TYPE_CHECKING:
    from openai import AsyncOpenAI

DEFAULT_BASE = "https://api.openai.com/v1"
TIMEOUT_S = 20.0  # connect, and each read: a server silent this long is down


def make_client(access: Access, base_url: str) -> AsyncOpenAI:
    """max_retries=0: one retry is ours (the same rule as every speech provider), not the client's two."""
    from openai import AsyncOpenAI, DefaultAsyncHttpxClient

    return AsyncOpenAI(api_key=access.api_key, base_url=base_url, max_retries=0, timeout=TIMEOUT_S,
                       http_client=DefaultAsyncHttpxClient(verify=tls_context()))


def classify(exc: Exception, key: str) -> RefusedError | TransientError:
    """An `openai` error as ours: a refused key or request (RefusedError) or worth one retry (TransientError).
    The server's text is kept except on a key refusal, where OpenAI echoes part of the key."""
    import openai

    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        code = _field(exc, "code") or _field(exc, "type")
        return RefusedError(f"openai refused the API key (HTTP {exc.status_code}{', ' + code if code else ''})")
    if isinstance(exc, openai.APITimeoutError):
        return TransientError(f"openai did not answer within {TIMEOUT_S:g} s")
    if isinstance(exc, openai.APIConnectionError):
        return TransientError(f"cannot reach openai: {redact(str(exc.__cause__ or exc), key)}")
    if isinstance(exc, openai.APIStatusError):
        message = f"openai answered HTTP {exc.status_code}: {redact(_field(exc, 'message') or exc.message, key)}"
        if exc.status_code in (408, 409, 429) or exc.status_code >= 500:
            return TransientError(message)
        return RefusedError(message)
    return RefusedError(f"openai answered something unexpected: {redact(str(exc), key)[:200]}")


def _field(exc: Any, name: str) -> str:
    body = getattr(exc, "body", None)
    error = body.get("error", body) if isinstance(body, dict) else None
    value = error.get(name) if isinstance(error, dict) else None
    return str(value)[:300] if value else ""


def redact(text: str, key: str) -> str:
    """No piece of the key in a message (servers echo keys, sometimes partly masked)."""
    if len(key) >= 8:
        for piece in (key, key[:8], key[-6:]):
            text = text.replace(piece, "***")
    return text
