"""`bench conversation`: turn latency and barge-in over scripted turns of a real call (offline stack)."""
from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowengine.bench.demo import CALLER_TURNS, demo_call
from flowengine.bench.media import machine

HOURS_QUESTION = "What are your opening hours?"
INTERRUPTION = "Sorry, wait a moment."
ENGINE_VAD_START_MS = 200  # the AI's VAD start_secs: speech is "detected" this long after it starts


def _pcts(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 1), "p95": round(p95, 1)}


async def run_conversation_bench(turns: int = 20, barge_ins: int = 5,
                                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    say = log or (lambda line: None)
    cycle = CALLER_TURNS[:-1]
    script = [cycle[i % len(cycle)] for i in range(turns)]
    texts = [*script, HOURS_QUESTION, INTERRUPTION]
    v2v: list[float] = []
    engine: list[float] = []
    stops: list[float] = []
    with tempfile.TemporaryDirectory(prefix="flowengine-bench-") as tmp:
        async with demo_call(Path(tmp), texts) as demo:
            caller = demo.caller
            if await caller.agent_speech_after(demo.t0, timeout=20) is not None:
                await caller.quiet_for(1.0)
            prompts = dict(zip(texts, demo.prompts, strict=True))
            for index, text in enumerate(script, 1):
                ended = await caller.say(prompts[text], 16000)
                heard = await caller.agent_speech_after(ended, timeout=20)
                if heard is not None:
                    v2v.append((heard.start - ended) * 1000)
                    say(f"turn {index}: {v2v[-1]:.0f} ms voice-to-voice")
                await caller.quiet_for(1.0)
            for trial in range(barge_ins):
                ended = await caller.say(prompts[HOURS_QUESTION], 16000)
                reply = await caller.agent_speech_after(ended, timeout=20)
                if reply is None:
                    continue
                await _sleep_until(reply.start + 1.0)  # the agent is well into its answer
                interrupt_at = time.perf_counter()
                if reply.end and reply.end < interrupt_at:
                    say(f"barge-in {trial + 1}: the answer was over before the interruption; not counted")
                    continue
                await caller.say(prompts[INTERRUPTION], 16000)
                await caller.quiet_for(1.0)  # the caller's VAD has then closed the agent's stretch
                if reply.end:
                    stopped_after = (reply.end - interrupt_at) * 1000 - ENGINE_VAD_START_MS
                    stops.append(max(0.0, stopped_after))
                    say(f"barge-in {trial + 1}: agent stopped {stops[-1]:.0f} ms after detection")
                await caller.quiet_for(1.5)
            for live in demo.service.live.values():
                if live.conversation is not None:
                    engine = [t.engine_ms for t in live.conversation.turns if t.engine_ms is not None]
    return {
        "turns": len(v2v),
        "voice_to_voice_ms": _pcts(v2v),
        "engine_ms": _pcts(engine),
        "barge_in_stop_ms": _pcts(stops),
        "barge_ins": len(stops),
        "measured_at": "caller (voice-to-voice, barge-in); engine (engine_ms)",
        "machine": machine(),
    }


async def _sleep_until(t: float) -> None:
    delay = t - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)
