"""How Whisper serves overlapping utterances: pool shapes (workers x threads) against one batched inference.

Each trial submits `concurrency` corpus utterances (different voices, over the phone line) at once
and reports the wall time until the last transcript and the mean time each utterance waited for
its transcript (what a caller feels). The batch trial encodes and decodes all windows in one
CTranslate2 call (possible when the windows have the same length: short utterances all get the
minimum window).
"""
from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from flowengine.bench.corpus import VOICES, lines, over_the_line, render
from flowengine.providers.stt.whisper import WhisperSTT
from flowengine.providers.stt.whisper_decode import HOP, MIN_WINDOW_FRAMES, TAIL_FRAMES

SHAPES = ((1, 2), (2, 1), (1, 1))  # (workers, intra-op threads)


def utterances(count: int) -> list[npt.NDArray[np.int16]]:
    said = [line for line in lines() if " | " not in line.text]
    return [over_the_line(render(said[i % len(said)], VOICES[i % len(VOICES)])) for i in range(count)]


async def _pool_trial(stt: WhisperSTT, audio: list[npt.NDArray[np.int16]]) -> dict[str, float]:
    started = time.perf_counter()
    done: list[float] = []

    async def one(pcm: npt.NDArray[np.int16]) -> None:
        await stt.transcribe(pcm, language="en")
        done.append(time.perf_counter() - started)

    cpu = time.process_time()
    await asyncio.gather(*(one(pcm) for pcm in audio))
    return {"wall_ms": round(max(done) * 1000, 1), "mean_wait_ms": round(statistics.mean(done) * 1000, 1),
            "cpu_ms": round((time.process_time() - cpu) * 1000, 1)}


def _batch_trial(model: Any, audio: list[npt.NDArray[np.int16]]) -> dict[str, float]:
    import ctranslate2  # type: ignore[import-untyped]
    from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped]

    started, cpu = time.perf_counter(), time.process_time()
    frames = max(max(len(a) // HOP + TAIL_FRAMES for a in audio), MIN_WINDOW_FRAMES)
    frames += frames % 2
    feats = []
    for pcm in audio:
        x = pcm.astype(np.float32) / 32768.0
        padded = np.concatenate([x, np.zeros(frames * HOP, dtype=np.float32)])
        feats.append(model.feature_extractor(padded, chunk_length=None)[:, :frames])
    encoded = model.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(np.stack(feats))))
    tokenizer = Tokenizer(model.hf_tokenizer, False, task="transcribe", language=None)
    prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    model.model.generate(encoded, [prompt] * len(audio), beam_size=1, max_length=len(prompt) + 60)
    wall = time.perf_counter() - started
    return {"wall_ms": round(wall * 1000, 1), "mean_wait_ms": round(wall * 1000, 1),
            "cpu_ms": round((time.process_time() - cpu) * 1000, 1)}


async def measure(concurrency: tuple[int, ...] = (1, 4, 8), repeats: int = 3) -> dict[str, Any]:
    audio = utterances(max(concurrency))
    report: dict[str, Any] = {"shapes": {}, "concurrency": list(concurrency), "repeats": repeats}
    for workers, threads in SHAPES:
        stt = WhisperSTT(workers=workers, cpu_threads=threads)
        await stt.warm_up()
        rows = {}
        for n in concurrency:
            trials = [await _pool_trial(stt, audio[:n]) for _ in range(repeats)]
            rows[str(n)] = min(trials, key=lambda t: t["wall_ms"])
        report["shapes"][f"{workers}x{threads}"] = rows
        engine = stt._engine()
        if (workers, threads) == (1, 2):
            batch = {}
            for n in concurrency:
                trials = [await asyncio.to_thread(_batch_trial, engine.model, audio[:n]) for _ in range(repeats)]
                batch[str(n)] = min(trials, key=lambda t: t["wall_ms"])
            report["shapes"]["batch 1x2"] = batch
        engine.pool.shutdown()
        WhisperSTT._engines.clear()
    return report
