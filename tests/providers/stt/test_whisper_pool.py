"""The model pool: work overlaps across workers, results and errors come back, shutdown ends it; and Whisper on it."""
from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from flowengine.bench.corpus import DIALOGUES, VOICES, over_the_line, render
from flowengine.providers.stt.whisper import WhisperSTT
from flowengine.providers.stt.whisper_pool import ModelPool, PoolClosed


class Model:
    """A stand-in model: records which threads used it."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.threads: set[int] = set()

    def square(self, x: int) -> int:
        self.threads.add(threading.get_ident())
        return x * x


async def test_work_on_two_workers_overlaps() -> None:
    pool = ModelPool(Model, workers=2, name="test-pool")
    both = threading.Barrier(2, timeout=5)  # passes only when two calls run at the same time

    def meet(model: Model) -> int:
        both.wait()
        return model.square(3)

    try:
        assert await asyncio.gather(pool.run(meet), pool.run(meet)) == [9, 9]
        assert len(pool.model.threads) == 2
        assert pool.model.workers == 2  # the loader was told how many threads it serves
    finally:
        pool.shutdown()


async def test_one_worker_runs_one_call_at_a_time() -> None:
    pool = ModelPool(Model, workers=1, name="test-pool")
    inside = 0
    most = 0

    def busy(model: Model) -> int:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        time.sleep(0.02)
        inside -= 1
        return model.square(2)

    try:
        assert await asyncio.gather(*(pool.run(busy) for _ in range(4))) == [4] * 4
        assert most == 1
    finally:
        pool.shutdown()


async def test_errors_reach_the_caller_and_the_pool_goes_on() -> None:
    pool = ModelPool(Model, workers=2, name="test-pool")

    def broken(model: Model) -> int:
        raise ValueError("bad window")

    try:
        with pytest.raises(ValueError, match="bad window"):
            await pool.run(broken)
        assert await pool.run(lambda m: m.square(5)) == 25
    finally:
        pool.shutdown()


async def test_a_timeout_gives_up_waiting_without_breaking_the_pool() -> None:
    pool = ModelPool(Model, workers=2, name="test-pool")
    try:
        with pytest.raises(TimeoutError):
            await pool.run(lambda m: time.sleep(0.3), timeout=0.05)
        assert await pool.run(lambda m: m.square(4)) == 16
    finally:
        pool.shutdown()


async def test_shutdown_finishes_running_work_and_refuses_more() -> None:
    pool = ModelPool(Model, workers=1, name="test-pool")
    started = threading.Event()

    def slow(model: Model) -> str:
        started.set()
        time.sleep(0.1)
        return "finished"

    running = asyncio.create_task(pool.run(slow))
    await asyncio.to_thread(started.wait, 5)
    await asyncio.to_thread(pool.shutdown)
    assert await running == "finished"
    assert pool.closed
    with pytest.raises(PoolClosed, match="shut down"):
        await pool.run(lambda m: m.square(1))
    with pytest.raises(PoolClosed):
        pool.run_sync(lambda m: m.square(1))


def test_a_model_that_fails_to_load_fails_the_pool() -> None:
    def load(workers: int) -> Model:
        raise RuntimeError("no such model folder")

    with pytest.raises(RuntimeError, match="no such model folder"):
        ModelPool(load, workers=2, name="test-pool")


async def test_whisper_transcribes_overlapping_utterances_correctly_on_its_pool() -> None:
    booking = next(d for d in DIALOGUES if d.name == "booking")
    said = [booking.lines[1], booking.lines[3], booking.lines[1], booking.lines[3]]
    audio = [over_the_line(render(line, VOICES[i % 2])) for i, line in enumerate(said)]
    stt = WhisperSTT(workers=2, cpu_threads=1)
    engine = await stt._loaded()
    assert engine.pool.workers == 2
    alone = [(await stt.transcribe(pcm, language="en")).text for pcm in audio]
    together = [t.text for t in await asyncio.gather(*(stt.transcribe(pcm, language="en") for pcm in audio))]
    assert together == alone  # greedy decoding: overlapping on the pool changes nothing
    assert "morgan" in together[1].lower() and alone[0] == alone[2], together
    # candidate scoring and the like reach the same loaded model through the pool
    assert await engine.pool.run(lambda model: model is engine.model)
    assert np.isfinite((await stt.transcribe(audio[0])).confidence)
