"""The outbox worker: claims the due head of each lane, sends it, and deletes, reschedules or gives it up.

One loop claims (up to `concurrency` rows in flight) and one task per claimed row sends it, so a receiver
that hangs until the timeout holds only its own lane. The loop sleeps until the earliest due retry, a
delivery ending, or new rows (`wake`); rows written by other nodes are seen within `poll_s`."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from pydantic import SecretStr

from flowengine.api.webhooks.sender import Answer, WebhookSender
from flowengine.store import NotFoundError, OutboxRow, Store
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)

MIN_SLEEP_S = 0.02
"""Between claims when a due row could not be claimed (another node is claiming it right now)."""


@dataclass(frozen=True)
class DeliveryPolicy:
    """Retry with exponential backoff (backoff_min_s doubling up to backoff_max_s) until max_age_s after the
    event, then give up. `lease_s`: how long a claimed row is ours (an attempt plus room to record it)."""

    max_age_s: float = 6 * 3600.0
    backoff_min_s: float = 1.0
    backoff_max_s: float = 300.0
    timeout_s: float = 10.0
    concurrency: int = 8
    poll_s: float = 5.0
    close_grace_s: float = 2.0

    def delay(self, attempts: int) -> float:
        """The wait after the `attempts`-th failed attempt."""
        return float(min(self.backoff_max_s, self.backoff_min_s * 2 ** min(attempts - 1, 60)))

    @property
    def lease_s(self) -> float:
        return self.timeout_s + 30.0


class OutboxWorker:
    """Delivers the store's outbox (every node's rows: any node may send any row). `delivered`, `retries`
    and `failures` (given up) count this process's outcomes; `on_settled(id)` hears of each row done with."""

    def __init__(self, store: Store, sender: WebhookSender, policy: DeliveryPolicy,
                 on_settled: Callable[[int], None] | None = None) -> None:
        self.store = store
        self.sender = sender
        self.policy = policy
        self.delivered = 0
        self.retries = 0
        self.failures = 0
        self._on_settled = on_settled
        self.on_attempt: Callable[[OutboxRow, Answer], None] | None = None  # each send's answer (call timelines)
        self._claimed: set[int] = set()  # leased by us and not yet recorded as sent, retried or given up
        self._running = 0
        self._closing = False
        self._wake = asyncio.Event()
        self._loop = TaskOwner("webhook outbox")
        self._sends = TaskOwner("webhook sends")
        self._loop.start(self._run(), name="webhook outbox claims")

    def wake(self) -> None:
        """New rows are in the outbox."""
        self._wake.set()

    async def _run(self) -> None:
        outbox, policy = self.store.outbox, self.policy
        while not self._closing:
            self._wake.clear()  # before claiming: a wake during the claim is not lost
            free = policy.concurrency - self._running
            sleep_s: float | None = None
            try:
                rows = await outbox.claim(free, policy.lease_s) if free > 0 else []
                for row in rows:
                    self._claimed.add(row.id)
                    self._running += 1
                    self._sends.start(self._deliver(row), name=f"webhook send {row.id}")
                if self._running < policy.concurrency:
                    due = await outbox.next_due()
                    sleep_s = policy.poll_s if due is None else (due - self.store.clock()).total_seconds()
                    sleep_s = min(policy.poll_s, max(MIN_SLEEP_S, sleep_s))
            except Exception:
                log.exception("webhook outbox unreadable; trying again in %.1f s", policy.poll_s)
                sleep_s = policy.poll_s
            try:
                async with asyncio.timeout(sleep_s):  # None: until a send ends and frees a slot
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _deliver(self, row: OutboxRow) -> None:
        try:
            answer = await self.sender.attempt(row.url, row.body.encode(), await self._secret(row), row.method,
                                               timeout_s=self.policy.timeout_s)
            await self._record(row, answer)
        except asyncio.CancelledError:
            raise  # still ours: aclose hands it back
        except Exception:
            self._claimed.discard(row.id)  # not recorded: its lease runs out and it is sent again
            raise
        else:
            self._claimed.discard(row.id)
        finally:
            self._running -= 1
            self._wake.set()

    async def _secret(self, row: OutboxRow) -> SecretStr | None:
        """Signed at send time with the secret stored now (the outbox never holds one)."""
        if not row.signed:
            return None
        try:
            return await self.store.customers.get_webhook_secret(row.customer_id)
        except NotFoundError:
            return None

    async def _record(self, row: OutboxRow, answer: Answer) -> None:
        outbox, policy = self.store.outbox, self.policy
        if self.on_attempt is not None:
            self.on_attempt(row, answer)
        if answer.ok or not answer.retryable:
            await outbox.delivered(row.id)
            self.delivered += 1
            if not answer.ok:
                log.warning("webhook %s of customer %s: %s answered %s (not retried)", row.event_type,
                            row.customer_id, row.url, answer.status)
            self._settled(row.id)
            return
        now = self.store.clock()
        horizon = row.tm_create + timedelta(seconds=policy.max_age_s)
        if now >= horizon:
            await outbox.give_up(row.id, answer.problem)
            self.failures += 1
            log.warning("webhook %s (outbox row %d) of customer %s given up after %d attempts over %.0f s: %s",
                        row.event_type, row.id, row.customer_id, row.attempts + 1, policy.max_age_s, answer.problem)
            self._settled(row.id)
            return
        when = min(now + timedelta(seconds=policy.delay(row.attempts + 1)), horizon)
        await outbox.retry_at(row.id, when, answer.problem)
        self.retries += 1
        log.info("webhook %s of customer %s to %s failed (%s), attempt %d; next at %s", row.event_type,
                 row.customer_id, row.url, answer.problem, row.attempts + 1, when.isoformat())

    def _settled(self, id: int) -> None:
        if self._on_settled is not None:
            self._on_settled(id)

    async def aclose(self) -> None:
        """Claims no more, lets sends under way finish for `close_grace_s`, and hands back the rows it still
        held, so the next engine (or another node) sends them at once rather than after their lease."""
        self._closing = True  # the loop ends between claims: a claim is never cut between its commit and its sends
        self._wake.set()
        await self._loop.aclose(timeout=self.policy.close_grace_s)
        await self._sends.aclose(timeout=self.policy.close_grace_s)
        left, self._claimed = sorted(self._claimed), set()
        if left:
            try:
                await self.store.outbox.release(left)
            except Exception:
                log.exception("webhook outbox: %d claimed rows not released (they are sent when their lease ends)",
                              len(left))
