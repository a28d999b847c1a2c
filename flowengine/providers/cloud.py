"""What every cloud provider client shares: one aiohttp session per provider instance, the vendor's
credentials, and how an HTTP answer becomes a retry, a refusal or a fault (TransientError / RefusedError)."""
from __future__ import annotations

import asyncio
import functools
import ssl
from typing import Any

import aiohttp

from flowengine.providers import credentials

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0  # between two reads of a streamed answer: a provider silent this long is down


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every SDK client this process makes (httpx's CA bundle): each `openai` or
    `anthropic` client would otherwise build its own, ~15-19 ms of the event loop at every AI call's start, a
    stall every other call's media feels (bench capacity)."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class TransientError(Exception):
    """Worth one more try (connection refused or dropped before any result, 429, 5xx, a timeout)."""


class RefusedError(Exception):
    """The provider refused the request for good (bad key: 401/403, bad request: 4xx): never retried."""


class CloudClient:
    """Mixin for a provider talking to `vendor`: `access` (key, base URL override...), a lazily made session."""

    vendor: str = ""

    def __init__(self) -> None:
        self.access = credentials.access(self.vendor)
        self._http: aiohttp.ClientSession | None = None

    def url(self, default_base: str, path: str = "") -> str:
        """`path` on the configured base URL, else on the vendor's `default_base` (no trailing slash)."""
        return (self.access.base_url or default_base).rstrip("/") + path

    def ws_url(self, default_base: str, path: str = "") -> str:
        """The WebSocket form of `url` (http -> ws, https -> wss)."""
        url = self.url(default_base, path)
        return "ws" + url[4:] if url.startswith("http") else url

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            # No pool limit: one provider instance serves every call of the process, and a streaming socket holds
            # its connection for the whole call; aiohttp's default of 100 left the 101st call's recogniser waiting
            # for a free connection until its connect timeout (`bench capacity`, 150 calls).
            self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(
                total=None, connect=CONNECT_TIMEOUT_S, sock_read=READ_TIMEOUT_S))
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


async def raise_for_answer(response: aiohttp.ClientResponse, vendor: str) -> None:
    """Nothing for 2xx; RefusedError for 4xx other than 408/429 (the key or the request is wrong: a retry
    cannot help), TransientError for the rest. The message has the vendor's own error text, never the key."""
    if response.status < 300:
        return
    detail = await error_text(response)
    message = f"{vendor} answered HTTP {response.status}: {detail}"
    if response.status in (401, 403):
        raise RefusedError(f"{vendor} refused the API key (HTTP {response.status}): {detail}")
    if 400 <= response.status < 500 and response.status not in (408, 429):
        raise RefusedError(message)
    raise TransientError(message)


async def error_text(response: aiohttp.ClientResponse, limit: int = 300) -> str:
    try:
        raw = await asyncio.wait_for(response.read(), 2.0)
    except (TimeoutError, aiohttp.ClientError):
        return response.reason or ""
    text = raw[:limit].decode("utf-8", "replace").strip()
    return text or (response.reason or "")


TRANSIENT: tuple[type[BaseException], ...] = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError,
                                              TimeoutError, ConnectionError)
"""Exceptions of the transport that say 'try again', not 'you are wrong'."""


def describe(exc: BaseException) -> str:
    """An exception in words for an error message (the class name when it says nothing)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def json_or_none(text: str) -> Any:
    import json

    try:
        return json.loads(text)
    except ValueError:
        return None
