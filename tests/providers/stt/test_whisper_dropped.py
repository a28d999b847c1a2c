"""A transcription nobody waits for any more (the caller went on after a speculative start, or it timed out) stops at
its worker's next stage instead of decoding and scoring for nobody; one still awaited runs every stage."""
from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
import pytest

from flowengine.bench.corpus import VOICES, Line, over_the_line, render
from flowengine.providers.stt import whisper, whisper_context
from flowengine.providers.stt.base import STTContext
from flowengine.providers.stt.whisper import WhisperSTT
from flowengine.providers.stt.whisper_decode import Dropped

DAY = STTContext("day", question="Which day would you like?")


@pytest.fixture(scope="module")
async def stt() -> WhisperSTT:
    provider = WhisperSTT()
    await provider.warm_up()
    return provider


@pytest.fixture(scope="module")
def tuesday() -> np.ndarray:
    voice = next(v for v in VOICES if v.name == "us-female")
    return over_the_line(render(Line("Next Tuesday please."), voice))


class Stages:
    """Wraps the stages of `decode_in_context`: counts the free decodings and scorings, and can hold the encoding
    until released (so a test cancels while the worker is inside it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, hold: bool) -> None:
        self.encoding = threading.Event()
        self.release = threading.Event()
        self.decoded = self.scored = 0
        self.runs = threading.Semaphore(0)  # released as each transcription's worker leaves decode_in_context
        if not hold:
            self.release.set()
        encode, decode, score = whisper_context.encode_window, whisper_context.decode_unlooped, whisper_context.first_round

        def held_encode(*args: Any, **kwargs: Any) -> Any:
            self.encoding.set()
            assert self.release.wait(10)
            return encode(*args, **kwargs)

        def counted_decode(*args: Any, **kwargs: Any) -> Any:
            self.decoded += 1
            return decode(*args, **kwargs)

        def counted_score(*args: Any, **kwargs: Any) -> Any:
            self.scored += 1
            return score(*args, **kwargs)

        def counted_run(*args: Any, **kwargs: Any) -> Any:
            try:
                return run(*args, **kwargs)
            finally:
                self.runs.release()

        run = whisper.decode_in_context
        monkeypatch.setattr(whisper, "decode_in_context", counted_run)
        monkeypatch.setattr(whisper_context, "encode_window", held_encode)
        monkeypatch.setattr(whisper_context, "decode_unlooped", counted_decode)
        monkeypatch.setattr(whisper_context, "first_round", counted_score)


async def test_a_cancelled_transcription_stops_after_the_stage_it_was_in(
        stt: WhisperSTT, tuesday: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    stages = Stages(monkeypatch, hold=True)
    task = asyncio.create_task(stt.transcribe_in_context(tuesday, DAY))
    assert await asyncio.to_thread(stages.encoding.wait, 10)  # the worker is encoding
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stages.release.set()
    # the worker finishes its encoding and stops: the next transcription gets the worker and runs every stage
    stages.release = threading.Event()
    stages.release.set()
    heard = await stt.transcribe_in_context(tuesday, DAY)
    assert "tuesday" in heard.text.lower()
    assert await asyncio.to_thread(stages.runs.acquire, True, 10)
    assert await asyncio.to_thread(stages.runs.acquire, True, 10)  # both workers are done
    assert (stages.decoded, stages.scored) == (1, 1)  # the cancelled one neither decoded nor scored


async def test_a_transcription_still_awaited_runs_every_stage(
        stt: WhisperSTT, tuesday: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    stages = Stages(monkeypatch, hold=False)
    heard = await stt.transcribe_in_context(tuesday, DAY)
    assert "tuesday" in heard.text.lower()
    assert (stages.decoded, stages.scored) == (1, 1)


def test_a_set_event_stops_decoding_after_the_encoding(stt: WhisperSTT, tuesday: np.ndarray,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    stages = Stages(monkeypatch, hold=False)
    engine = stt._engine()
    dropped = threading.Event()
    dropped.set()
    with pytest.raises(Dropped):
        whisper_context.decode_in_context(engine.model, whisper._as_float(tuesday), DAY, language="en",
                                          dropped=dropped)
    assert (stages.decoded, stages.scored) == (0, 0)


async def test_a_timed_out_transcription_is_reported_and_its_worker_stops(
        tuesday: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = WhisperSTT(timeout_s=0.2)
    await slow.warm_up()
    stages = Stages(monkeypatch, hold=True)
    with pytest.raises(Exception, match="did not finish"):
        await slow.transcribe_in_context(tuesday, DAY)
    stages.release.set()
    stages.release = threading.Event()
    stages.release.set()
    slow._timeout_s = 15.0  # the next one is given time
    assert "tuesday" in (await slow.transcribe_in_context(tuesday, DAY)).text.lower()
    assert await asyncio.to_thread(stages.runs.acquire, True, 10)
    assert await asyncio.to_thread(stages.runs.acquire, True, 10)
    assert (stages.decoded, stages.scored) == (1, 1)
