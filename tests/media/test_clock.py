"""Media clock: deadline schedule with zero drift over a simulated hour, catch-up, isolation."""
from __future__ import annotations

import asyncio
import random

import pytest

from flowengine.media.clock import MediaClock


class FakeTime:
    """A clock whose sleeps overshoot like a busy event loop (0..3 ms, sometimes 15 ms)."""

    def __init__(self, seed: int = 1) -> None:
        self.now = 1000.0
        self.rng = random.Random(seed)

    def time(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        overshoot = self.rng.uniform(0, 0.003)
        if self.rng.random() < 0.01:
            overshoot += 0.015
        self.now += delay + overshoot


class Recorder:
    def __init__(self, fake: FakeTime) -> None:
        self.fake = fake
        self.times: list[float] = []

    def on_tick(self) -> None:
        self.times.append(self.fake.now)


async def test_an_hour_of_ticks_has_zero_cumulative_drift() -> None:
    fake = FakeTime()
    clock = MediaClock(time=fake.time, sleep=fake.sleep)
    recorder = Recorder(fake)
    clock.join(recorder)  # registered without starting the real-time task
    ticks = 3600 * 50
    await clock.run(ticks=ticks)
    assert len(recorder.times) == ticks
    start = clock.start
    lateness = [t - (start + n * 0.02) for n, t in enumerate(recorder.times)]
    # Every tick is at or after its own deadline and never more than one overshoot behind:
    # lateness does not accumulate, the last tick is as punctual as the first.
    assert min(lateness) >= 0
    assert max(lateness) < 0.019
    assert lateness[-1] < 0.019
    assert clock.deadline(ticks - 1) == start + (ticks - 1) * 0.02
    assert clock.skipped_ticks == 0
    # A now + 20 ms schedule would have drifted by the sum of all overshoots (minutes).
    assert sum(lateness) / ticks > 0.001


async def test_lateness_samples_are_recorded_only_when_asked() -> None:
    fake = FakeTime()
    clock = MediaClock(time=fake.time, sleep=fake.sleep)
    recorder = Recorder(fake)
    clock.join(recorder)
    await clock.run(ticks=10)
    assert clock.lateness_samples is None
    clock.lateness_samples = samples = []
    await clock.run(ticks=50)
    clock.lateness_samples = None
    start = clock.start
    assert samples == [t - (start + n * 0.02) for n, t in enumerate(recorder.times[10:])]
    assert min(samples) >= 0 and max(samples) <= clock.max_lateness


async def test_a_stall_is_caught_up_tick_by_tick() -> None:
    fake = FakeTime()
    stalls = iter([0.1])

    async def sleep(delay: float) -> None:
        fake.now += delay + next(stalls, 0.0)

    clock = MediaClock(time=fake.time, sleep=sleep)
    recorder = Recorder(fake)
    clock.join(recorder)
    await clock.run(ticks=20)
    assert len(recorder.times) == 20
    assert clock.skipped_ticks == 0
    assert clock.late_ticks >= 1


async def test_a_long_stall_skips_ahead_instead_of_bursting() -> None:
    fake = FakeTime()
    stalls = iter([1.0])

    async def sleep(delay: float) -> None:
        fake.now += delay + next(stalls, 0.0)

    clock = MediaClock(time=fake.time, sleep=sleep, max_catchup=10)
    recorder = Recorder(fake)
    clock.join(recorder)
    await clock.run(ticks=60)
    assert clock.skipped_ticks == 50
    assert len(recorder.times) == 10
    assert recorder.times[-1] - recorder.times[0] == pytest.approx(9 * 0.02, abs=1e-6)


async def test_a_failing_client_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTime()
    clock = MediaClock(time=fake.time, sleep=fake.sleep)

    class Broken:
        def on_tick(self) -> None:
            raise RuntimeError("boom")

    recorder = Recorder(fake)
    clock.join(Broken())
    clock.join(recorder)
    await clock.run(ticks=3)
    assert len(recorder.times) == 3
    assert clock.client_errors == 3
    assert "boom" in caplog.text


async def test_real_clock_starts_with_first_client_and_stops_after_last() -> None:
    clock = MediaClock()
    ticked = asyncio.Event()

    class Client:
        count = 0

        def on_tick(self) -> None:
            self.count += 1
            if self.count == 3:
                ticked.set()

    client = Client()
    clock.add(client)
    with pytest.raises(ValueError, match="already registered"):
        clock.add(client)
    await asyncio.wait_for(ticked.wait(), timeout=5)
    task = clock._task
    assert task is not None
    clock.remove(client)
    await asyncio.wait_for(asyncio.shield(task), timeout=5)
    assert task.done() and clock.client_count == 0
    await clock.aclose()


async def test_for_loop_returns_one_clock_per_loop() -> None:
    assert MediaClock.for_loop() is MediaClock.for_loop()
