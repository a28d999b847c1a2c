"""Sending a webhook body: one signed HTTP attempt (`attempt`), or a few quick retries (`send`)."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from pydantic import SecretStr

from flowengine.api.webhooks.signing import SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({408, 429})
"""4xx answers that mean "later", not "never" (besides every 5xx)."""


@dataclass(frozen=True)
class Answer:
    """How one attempt went: the receiver's status (None: no answer: refused, reset, timed out)."""

    status: int | None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400

    @property
    def retryable(self) -> bool:
        """Worth another attempt: no answer, a 5xx, or a 408/429; any other 4xx would answer the same."""
        return self.status is None or self.status >= 500 or self.status in RETRIED_STATUSES


class WebhookSender:
    """Sends bodies over one aiohttp session. `send` retries (transport error or 5xx) a few times with
    backoff and counts the given-up ones in `failures`; the outbox worker makes single `attempt`s."""

    def __init__(self, http: aiohttp.ClientSession, *, attempts: int = 3, backoff_s: float = 1.0,
                 timeout_s: float = 10.0) -> None:
        self.http = http
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.failures = 0
        self.delivered = 0

    async def attempt(self, url: str, body: bytes, secret: str | SecretStr | None = None, method: str = "POST",
                      extra_headers: Mapping[str, str] | None = None, *, timeout_s: float | None = None) -> Answer:
        """One request; never raises for what the network or the receiver does."""
        headers = {**(extra_headers or {}), "Content-Type": "application/json"}  # extra: VoiceOS webhook headers
        if secret is not None and (secret.get_secret_value() if isinstance(secret, SecretStr) else secret):
            headers[SIGNATURE_HEADER] = sign(secret, body)
        timeout = aiohttp.ClientTimeout(total=timeout_s or self.timeout_s)
        try:
            async with self.http.request(method or "POST", url, data=body, headers=headers, timeout=timeout) as reply:
                status = reply.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            return Answer(None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        return Answer(status, "" if status < 400 else f"HTTP {status}")

    async def send(self, url: str, body: bytes, secret: str | SecretStr | None = None, method: str = "POST",
                   extra_headers: Mapping[str, str] | None = None) -> bool:
        answer = Answer(None)
        for attempt in range(1, self.attempts + 1):
            answer = await self.attempt(url, body, secret, method, extra_headers)
            if answer.status is not None and answer.status < 500:
                self.delivered += 1
                if not answer.ok:
                    log.warning("webhook %s answered %d (not retried)", url, answer.status)
                return answer.ok
            if attempt < self.attempts:
                log.info("webhook %s failed (%s), attempt %d/%d", url, answer.problem, attempt, self.attempts)
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        self.failures += 1
        log.warning("webhook %s given up after %d attempts (%s)", url, self.attempts, answer.problem)
        return False
