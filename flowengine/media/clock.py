"""The shared 20 ms media clock: one deadline-scheduled tick sends for every session, then batches inbound."""
from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import ClassVar, Protocol

from flowengine.media.inbound import InboundBatch

logger = logging.getLogger(__name__)

PERIOD = 0.020
# After a stall (GC, a blocked loop) ticks are caught up back to back, at most this many;
# beyond, the schedule jumps ahead (counted in `skipped_ticks`) rather than flood the peer.
MAX_CATCHUP = 10


class Tickable(Protocol):
    def on_tick(self) -> None: ...


class MediaClock:
    """One timer for all sessions of an event loop.

    Tick n is due at `start + n * period`, computed from n each time (never `now + period`),
    so lateness of one tick never carries into the next: zero cumulative drift. Each tick
    first calls `on_tick()` of every registered client in registration order (the sessions'
    sends: the timing-critical part), then processes the inbound frames of all sessions in
    one batch (`inbound`). `time` and `sleep` are injectable so a test can run an hour of
    ticks on a fake clock.

    The clock owns its task: it starts with the first client and ends when the last one
    leaves (or on `aclose()`), so an idle engine has no timer.
    """

    _per_loop: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MediaClock]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(
        self,
        *,
        period: float = PERIOD,
        time: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_catchup: int = MAX_CATCHUP,
    ) -> None:
        self.period = period
        self._time = time
        self._sleep = sleep
        self.max_catchup = max_catchup
        self._clients: list[Tickable] = []
        self._snapshot: tuple[Tickable, ...] = ()
        self._task: asyncio.Task[None] | None = None
        self.inbound = InboundBatch()
        self.start = 0.0
        self.ticks = 0
        self.skipped_ticks = 0
        self.late_ticks = 0
        self.max_lateness = 0.0
        self.client_errors = 0

    @classmethod
    def for_loop(cls) -> MediaClock:
        """The default clock of the running event loop (created on first use)."""
        loop = asyncio.get_running_loop()
        clock = cls._per_loop.get(loop)
        if clock is None:
            clock = cls._per_loop[loop] = cls()
        return clock

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def deadline(self, n: int) -> float:
        return self.start + n * self.period

    def add(self, client: Tickable) -> None:
        if client in self._clients:
            raise ValueError("client is already registered with this clock")
        self._clients.append(client)
        self._snapshot = tuple(self._clients)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="media-clock")

    def remove(self, client: Tickable) -> None:
        if client in self._clients:
            self._clients.remove(client)
            self._snapshot = tuple(self._clients)

    async def run(self, *, ticks: int | None = None) -> None:
        """Tick until no client is left (or `ticks` ticks were run)."""
        now = self._time
        self.start = now()
        n = 0
        while self._clients and (ticks is None or n < ticks):
            deadline = self.start + n * self.period
            # Even when behind, yield to the loop: the sessions' receive callbacks must run
            # between ticks, or a late tick starves them and the next ones get later still.
            await self._sleep(max(0.0, deadline - now()))
            lateness = now() - deadline
            if lateness > self.period:
                self.late_ticks += 1
                behind = int(lateness / self.period)
                if behind > self.max_catchup:
                    # Jump to the current slot: the missed ticks are skipped, not sent in a burst.
                    self.skipped_ticks += behind
                    n += behind
                    logger.warning("media clock stalled %.0f ms; skipped %d ticks", lateness * 1000, behind)
            self.max_lateness = max(self.max_lateness, lateness)
            self._tick()
            n += 1

    def _tick(self) -> None:
        self.ticks += 1
        for client in self._snapshot:
            try:
                client.on_tick()
            except Exception:
                # One broken session must not stop the others' audio.
                self.client_errors += 1
                logger.exception("media clock client %r failed", client)
        self.inbound.process()

    async def aclose(self) -> None:
        self._clients.clear()
        self._snapshot = ()
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            # asyncio.wait does not re-raise the task's CancelledError, so a cancellation of
            # the caller itself still propagates.
            await asyncio.wait([task])
