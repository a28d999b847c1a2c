"""The webhook dispatcher: what the bus announces, written to the store's outbox for the worker to deliver.

Each customer's events go to its `webhook_uri` with its `webhook_method`, signed with its `webhook_secret`
at send time; events naming an activeflow with its own webhook_uri (given at POST /activeflows) go there
too, unsigned. The engine's own customer never receives webhooks. Publishing never waits: the listener
appends to a queue that one writer task empties into the outbox at once, in publishing order."""
from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from dataclasses import dataclass, field

from flowengine.api.webhooks.sender import WebhookSender
from flowengine.api.webhooks.worker import DeliveryPolicy, OutboxWorker
from flowengine.events import Event, EventBus
from flowengine.store import Customer, NotFoundError, OutboxEntry, Store
from flowengine.tasks import TaskOwner
from flowengine.tenancy import ENGINE_CUSTOMER_ID

log = logging.getLogger(__name__)

DELIVERED_TYPES = ("call_", "activeflow_", "aicall_", "aimessage_", "ai_", "team_", "campaign", "outdial",
                   "outplan", "recording_", "summary_")
WRITE_BATCH = 200
STORE_RETRY_S = 1.0
CLOSE_FLUSH_S = 5.0


@dataclass
class _Job:
    event: Event
    activeflow_id: str = ""
    extra_hooks: list[tuple[str, str]] = field(default_factory=list)


def lane_of_activeflow(activeflow_id: str) -> str:
    """The lane of an activeflow's own webhook_uri (a customer's own webhook is the lane named by its id)."""
    return f"activeflow:{activeflow_id}"


class WebhookDispatcher:
    """Listens to the bus and writes each event for each of its receivers to the outbox; its `worker`
    delivers the outbox. `pending` events are accepted and not yet written (the store was slow or down)."""

    def __init__(self, store: Store, sender: WebhookSender, bus: EventBus, *,
                 policy: DeliveryPolicy | None = None, max_pending: int = 100_000) -> None:
        self.store = store
        self.sender = sender
        self.dropped = 0
        self.activeflow_hooks: dict[str, tuple[str, str]] = {}
        self._pending: deque[_Job] = deque()
        self._max_pending = max_pending
        self._written: set[int] = set()  # outbox rows of this dispatcher not yet settled (for drain)
        self._wake = asyncio.Event()
        self._closing = False
        self.worker = OutboxWorker(store, sender, policy or DeliveryPolicy(), on_settled=self._written.discard)
        self._writer = TaskOwner("webhook dispatcher")
        self._writer.start(self._write_loop(), name="webhook outbox writer")
        self._unsubscribe = bus.subscribe(self._on_event)

    @property
    def pending(self) -> int:
        return len(self._pending)

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
        if len(self._pending) >= self._max_pending:
            self.dropped += 1
            log.warning("webhook outbox writes %d events behind: %s for customer %s dropped", len(self._pending),
                        event.type, event.customer_id)
            return
        self._pending.append(_Job(event, af_id, hooks))
        self._wake.set()

    async def _write_loop(self) -> None:
        while not (self._closing and not self._pending):
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._pending[i] for i in range(min(WRITE_BATCH, len(self._pending)))]
            try:
                ids = await self.store.outbox.add(await self._entries(batch))
            except Exception:
                if self._closing:
                    log.exception("webhook outbox unwritable at close: %d events lost", len(self._pending))
                    return
                log.exception("webhook outbox unwritable; %d events wait, trying again in %.0f s",
                              len(self._pending), STORE_RETRY_S)
                await asyncio.sleep(STORE_RETRY_S)
                continue
            for _ in batch:  # only now: events published meanwhile are behind them
                self._pending.popleft()
            self._written.update(ids)
            if ids:
                self.worker.wake()

    async def _entries(self, batch: list[_Job]) -> list[OutboxEntry]:
        customers: dict[str, Customer | None] = {}
        entries: list[OutboxEntry] = []
        for job in batch:
            event = job.event
            body = json.dumps({"type": event.type, "data": event.data}, separators=(",", ":"))
            if event.customer_id != ENGINE_CUSTOMER_ID:
                if event.customer_id not in customers:
                    try:
                        customers[event.customer_id] = await self.store.customers.get(event.customer_id)
                    except NotFoundError:
                        customers[event.customer_id] = None
                customer = customers[event.customer_id]
                if customer is not None and customer.webhook_uri:
                    entries.append(OutboxEntry(lane=customer.id, customer_id=customer.id, event_type=event.type,
                                               url=customer.webhook_uri, method=customer.webhook_method or "POST",
                                               body=body))
            for url, method in job.extra_hooks:
                entries.append(OutboxEntry(lane=lane_of_activeflow(job.activeflow_id), customer_id=event.customer_id,
                                           event_type=event.type, url=url, method=method or "POST", body=body,
                                           signed=False))
        return entries

    async def drain(self, timeout: float = 10.0) -> None:
        """Until every event accepted so far is written and each of its rows delivered or given up (tests)."""
        async with asyncio.timeout(timeout):
            while self._pending or self._written:
                # rows another node (or a closed worker) settled are not announced here: ask the store
                self._written.intersection_update(await self.store.outbox.pending_of(sorted(self._written)))
                if self._pending or self._written:
                    await asyncio.sleep(0.05)

    async def aclose(self) -> None:
        """Stops listening, writes what was accepted (up to a few seconds), then stops delivering."""
        self._unsubscribe()
        self._closing = True
        self._wake.set()
        await self._writer.aclose(timeout=CLOSE_FLUSH_S)
        if self._pending:
            log.warning("webhook dispatcher closed with %d events not written to the outbox", len(self._pending))
        await self.worker.aclose()
