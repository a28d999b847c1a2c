"""Pacing and caps: calls per second (spacing between originations) and concurrent-call limits."""
from __future__ import annotations

import asyncio
import contextlib
import time


class Pacer:
    """Spaces successive `wait()` returns at least `1 / rate` seconds apart."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError(f"calls per second must be > 0, got {rate}")
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            if now < self._next:
                await asyncio.sleep(self._next - now)
                now = time.monotonic()
            self._next = now + self.interval


class Slots:
    """A counting cap whose holders are visible (`used`); `changed` wakes whoever waits for room."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a concurrency cap must be >= 1, got {limit}")
        self.limit = limit
        self.used = 0
        self.changed = asyncio.Event()

    def free(self) -> bool:
        return self.used < self.limit

    def take(self) -> None:
        if not self.free():
            raise RuntimeError("no free slot")
        self.used += 1

    def give(self) -> None:
        self.used -= 1
        self.changed.set()

    async def wait_change(self, timeout: float) -> None:
        self.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), timeout)


class AsteriskCaps:
    """The caps shared by every campaign on one Asterisk (config `campaign`)."""

    def __init__(self, max_concurrent_calls: int, max_calls_per_second: float) -> None:
        self.slots = Slots(max_concurrent_calls)
        self.pacer = Pacer(max_calls_per_second)
