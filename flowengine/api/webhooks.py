"""Webhooks: events of the bus delivered to each customer's URL, signed, retried, never blocking a call."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from pydantic import SecretStr

from flowengine.events import Event, EventBus
from flowengine.store import NotFoundError, Store
from flowengine.tasks import TaskOwner
from flowengine.tenancy import ENGINE_CUSTOMER_ID

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-VoIPBIN-Signature"
DELIVERED_TYPES = ("call_", "activeflow_", "aicall_", "aimessage_", "ai_", "team_", "campaign", "outdial",
                   "outplan", "recording_", "summary_")


def sign(secret: str | SecretStr, body: bytes) -> str:
    """The `X-VoIPBIN-Signature` value: `sha256=<hex HMAC-SHA256(secret, body)>`."""
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """Sends one body with retries (transport error or 5xx) and backoff; `failures` counts the given-up ones."""

    def __init__(self, http: aiohttp.ClientSession, *, attempts: int = 3, backoff_s: float = 1.0,
                 timeout_s: float = 10.0) -> None:
        self.http = http
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.failures = 0
        self.delivered = 0

    async def send(self, url: str, body: bytes, secret: str | SecretStr | None = None, method: str = "POST",
                   extra_headers: Mapping[str, str] | None = None) -> bool:
        headers = {**(extra_headers or {}), "Content-Type": "application/json"}  # extra: VoiceOS webhook headers
        if secret is not None and (secret.get_secret_value() if isinstance(secret, SecretStr) else secret):
            headers[SIGNATURE_HEADER] = sign(secret, body)
        for attempt in range(1, self.attempts + 1):
            try:
                async with self.http.request(method or "POST", url, data=body, headers=headers,
                                             timeout=self.timeout) as reply:
                    if reply.status < 500:
                        self.delivered += 1
                        if reply.status >= 400:
                            log.warning("webhook %s answered %d (not retried)", url, reply.status)
                        return reply.status < 400
                    problem = f"HTTP {reply.status}"
            except (TimeoutError, aiohttp.ClientError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt < self.attempts:
                log.info("webhook %s failed (%s), attempt %d/%d", url, problem, attempt, self.attempts)
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        self.failures += 1
        log.warning("webhook %s given up after %d attempts (%s)", url, self.attempts, problem)
        return False


@dataclass
class _Job:
    event: Event
    extra_hooks: list[tuple[str, str]] = field(default_factory=list)


class WebhookDispatcher:
    """Listens to the bus (publishing only enqueues) and delivers from worker tasks.

    Each customer's events go to its `webhook_uri` with its `webhook_method`, signed with its
    `webhook_secret`; events naming an activeflow with its own webhook_uri (given at POST
    /activeflows) go there too. The engine's own customer never receives webhooks."""

    def __init__(self, store: Store, sender: WebhookSender, bus: EventBus, *, workers: int = 4,
                 maxsize: int = 10_000) -> None:
        self.store = store
        self.sender = sender
        self.queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.activeflow_hooks: dict[str, tuple[str, str]] = {}
        self._unsubscribe = bus.subscribe(self._on_event)
        self._workers = TaskOwner("webhook dispatcher")
        for number in range(workers):
            self._workers.start(self._work(), name=f"webhook-worker-{number}")

    def _on_event(self, event: Event) -> None:
        if not event.type.startswith(DELIVERED_TYPES):
            return
        data = event.data
        af_id = str(data.get("id") if event.type.startswith("activeflow_") else data.get("activeflow_id", ""))
        hooks = [self.activeflow_hooks[af_id]] if af_id in self.activeflow_hooks else []
        if event.type.startswith("activeflow_") and data.get("status") == "ended":
            self.activeflow_hooks.pop(af_id, None)
        if event.customer_id == ENGINE_CUSTOMER_ID and not hooks:
            return
        if self.queue.full():
            self.dropped += 1
            log.warning("webhook queue full: %s for customer %s dropped", event.type, event.customer_id)
            return
        self.queue.put_nowait(_Job(event, hooks))

    async def _work(self) -> None:
        while True:
            job = await self.queue.get()
            try:
                await self._deliver(job)
            except Exception:
                log.exception("webhook delivery of %s failed", job.event.type)
            finally:
                self.queue.task_done()

    async def _deliver(self, job: _Job) -> None:
        event = job.event
        body = json.dumps({"type": event.type, "data": event.data}, separators=(",", ":")).encode()
        if event.customer_id != ENGINE_CUSTOMER_ID:
            try:
                customer = await self.store.customers.get(event.customer_id)
            except NotFoundError:
                customer = None
            except Exception:
                log.exception("webhook: customer %s unreadable", event.customer_id)
                customer = None
            if customer is not None and customer.webhook_uri:
                secret = await self.store.customers.get_webhook_secret(customer.id)
                await self.sender.send(customer.webhook_uri, body, secret, customer.webhook_method or "POST")
        for url, method in job.extra_hooks:
            await self.sender.send(url, body, None, method)

    async def drain(self, timeout: float = 10.0) -> None:
        """Until the queue is empty (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            await self.queue.join()

    async def aclose(self) -> None:
        self._unsubscribe()
        await self._workers.aclose()
