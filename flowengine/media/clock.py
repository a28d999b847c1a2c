"""The shared 20 ms media clock: one deadline-scheduled tick sends for every session, then receives and batches inbound."""
from __future__ import annotations

import asyncio
import bisect
import contextvars
import logging
import select
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import ClassVar, Protocol

from flowengine.media import timerfd
from flowengine.media.inbound import InboundBatch
from flowengine.media.transport import Poller

logger = logging.getLogger(__name__)

PERIOD = 0.020
# After a stall (GC, a blocked loop) ticks are caught up back to back, at most this many;
# beyond, the schedule jumps ahead (counted in `skipped_ticks`) rather than flood the peer.
MAX_CATCHUP = 10
# Upper bounds (seconds) of the lateness histogram every clock keeps (/metrics): 60 ms is the capacity budget's stall.
LATENESS_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.010, 0.020, 0.040, 0.060, 0.100, 0.250, 1.0)


class Tickable(Protocol):
    def on_tick(self) -> None: ...


class MediaClock:
    """One timer for all sessions of an event loop.

    Tick n is due at `start + n * period`, computed from n each time (never `now + period`),
    so lateness of one tick never carries into the next: zero cumulative drift. Each tick
    first calls `on_tick()` of every registered client in registration order (the sessions'
    sends: the timing-critical part), then reads every session socket registered with
    `poller` (one epoll pass, no callback per datagram), then processes the inbound frames of
    all sessions in one batch (`inbound`).

    In real time the tick is a plain callback woken by a timerfd at the deadline itself
    (asyncio's timers have 1 ms granularity and a task wake-up costs a second loop
    iteration); without timerfd, `loop.call_at()`. `time` and `sleep` are injectable so a
    test can run an hour of ticks on a fake clock (then ticks run in a coroutine).

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
        sleep: Callable[[float], Awaitable[None]] | None = None,
        max_catchup: int = MAX_CATCHUP,
        precise: bool = True,
    ) -> None:
        self.period = period
        self._time = time
        self._sleep = sleep
        self.max_catchup = max_catchup
        self._clients: list[Tickable] = []
        # Each client's tick runs in the context it joined from (its call's log ids), never in the
        # context of whichever call happened to start the clock's task.
        self._contexts: dict[int, contextvars.Context] = {}
        self._snapshot: tuple[tuple[Tickable, contextvars.Context], ...] = ()
        self._task: asyncio.Task[None] | None = None
        self.inbound = InboundBatch()
        # Sockets read by the tick; None where epoll is missing (sockets then use loop readers).
        self.poller: Poller | None = Poller() if hasattr(select, "epoll") else None
        self._precise = precise and timerfd.available()
        self._timer: timerfd.TimerFd | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._done: asyncio.Future[None] | None = None
        self._n = 0
        self._limit: int | None = None
        self.start = 0.0
        self.ticks = 0
        self.skipped_ticks = 0
        self.late_ticks = 0
        self.max_lateness = 0.0
        # When a list, every tick's lateness (seconds after its deadline) is appended: the bench
        # reports its percentiles, the host's share of the send jitter.
        self.lateness_samples: list[float] | None = None
        # Ticks by lateness, per LATENESS_BUCKETS bound (not cumulative; the last: over the largest), and their sum.
        self.lateness_counts = [0] * (len(LATENESS_BUCKETS) + 1)
        self.lateness_sum = 0.0
        self.client_errors = 0
        self.receive_errors = 0

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
        """Registers `client` (its ticks run in a copy of the caller's context) and starts the clock."""
        self.join(client)
        if self._task is None or self._task.done():
            # Shared by every call: started in an empty context, so it carries no call's ids.
            self._task = asyncio.get_running_loop().create_task(self.run(), name="media-clock",
                                                                context=contextvars.Context())

    def join(self, client: Tickable) -> None:
        """Registers `client` without starting the real-time task (for `run(ticks=...)` on a fake clock)."""
        if client in self._clients:
            raise ValueError("client is already registered with this clock")
        self._clients.append(client)
        self._contexts[id(client)] = contextvars.copy_context()
        self._snapshot = tuple((c, self._contexts[id(c)]) for c in self._clients)

    def remove(self, client: Tickable) -> None:
        if client in self._clients:
            self._clients.remove(client)
            del self._contexts[id(client)]
            self._snapshot = tuple((c, self._contexts[id(c)]) for c in self._clients)

    async def run(self, *, ticks: int | None = None) -> None:
        """Tick until no client is left (or `ticks` ticks were run)."""
        if self._sleep is None and self._time is time.monotonic:
            await self._run_realtime(ticks)
            return
        sleep = self._sleep or asyncio.sleep
        now = self._time
        self.start = now()
        n = 0
        while self._clients and (ticks is None or n < ticks):
            deadline = self.start + n * self.period
            # Even when behind, yield to the loop: other callbacks must run between ticks,
            # or a late tick starves them and the next ones get later still.
            await sleep(max(0.0, deadline - now()))
            n = self._due(n, now() - deadline)
            self._tick()
            n += 1

    def _due(self, n: int, lateness: float) -> int:
        """The tick to run now, n unless so far behind that the missed ones are skipped."""
        if lateness > self.period:
            self.late_ticks += 1
            behind = int(lateness / self.period)
            if behind > self.max_catchup:
                # Jump to the current slot: the missed ticks are skipped, not sent in a burst.
                self.skipped_ticks += behind
                n += behind
                logger.warning("media clock stalled %.0f ms; skipped %d ticks", lateness * 1000, behind)
        self.max_lateness = max(self.max_lateness, lateness)
        self.lateness_counts[bisect.bisect_left(LATENESS_BUCKETS, lateness)] += 1
        self.lateness_sum += lateness
        if self.lateness_samples is not None:
            self.lateness_samples.append(lateness)
        return n

    async def _run_realtime(self, ticks: int | None) -> None:
        loop = asyncio.get_running_loop()
        self._done = done = loop.create_future()
        self._limit = ticks
        self._n = 0
        self.start = time.monotonic()
        if self._precise:
            self._timer = timerfd.TimerFd()
            loop.add_reader(self._timer.fd, self._on_timer)
        try:
            self._arm(loop, self.start)
            await done
        finally:
            if self._handle is not None:
                self._handle.cancel()
                self._handle = None
            if self._timer is not None:
                if not loop.is_closed():
                    loop.remove_reader(self._timer.fd)
                self._timer.close()
                self._timer = None
            self._done = None

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.set_at(when)
        else:
            self._handle = loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        if self._timer is not None:
            self._timer.consume()
        n = self._n
        deadline = self.start + n * self.period
        try:
            n = self._due(n, max(0.0, time.monotonic() - deadline))
            self._tick()
        finally:
            # Whatever happened in the tick, the schedule goes on.
            n += 1
            self._n = n
            done = self._done
            if done is not None and not done.done():
                if not self._clients or (self._limit is not None and n >= self._limit):
                    done.set_result(None)
                else:
                    self._arm(asyncio.get_running_loop(), self.start + n * self.period)

    def _tick(self) -> None:
        self.ticks += 1
        for client, context in self._snapshot:
            try:
                context.run(client.on_tick)
            except Exception:
                # One broken session must not stop the others' audio.
                self.client_errors += 1
                logger.exception("media clock client %r failed", client)
        if self.poller is not None:
            try:
                self.poller.poll()
            except Exception:
                self.receive_errors += 1
                logger.exception("media clock: receiving failed")
        self.inbound.process()

    async def aclose(self) -> None:
        self._clients.clear()
        self._contexts.clear()
        self._snapshot = ()
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            # asyncio.wait does not re-raise the task's CancelledError, so a cancellation of
            # the caller itself still propagates.
            await asyncio.wait([task])
