"""`bench conversation`: turn latency and barge-in over scripted turns of a real call (offline stack)."""
from __future__ import annotations

import asyncio
import itertools
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowengine.bench.demo import CALLER_TURNS, DemoCall, demo_call
from flowengine.bench.media import machine

HOURS_QUESTION = "What are your opening hours?"
# One breath, no comma: the voice pauses at a comma for longer than the engine's VAD stop time, and the engine
# would hear "Sorry" alone, a one-word backchannel it lets the agent talk over (measured: the agent stopped,
# went on 350 ms later, and stopped for good only at "wait a moment", which the report then counted).
INTERRUPTION = "Sorry wait a moment."
RESUMED_GAP_S = 0.1  # agent audio after a silence this long, while the caller still speaks: the agent went on
BARGE_IN_STOP_MS = (
    "from the caller's first speech frame reaching the engine (timed when it leaves the caller: one Asterisk "
    "bridge hop earlier, ~20 ms on loopback) to the agent's last audio frame the caller receives while it "
    "still speaks; it includes the engine's VAD start time (the 0.2 s of speech it needs to detect a caller)"
)


def pcts(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 1), "p95": round(p95, 1)}


@dataclass
class Drive:
    """What the caller measured over one scripted conversation."""

    said: int = 0  # the caller's utterances (each should be one turn)
    v2v: list[float] = field(default_factory=list)
    stops: list[float] = field(default_factory=list)
    resumed: int = 0


async def run_conversation_bench(turns: int = 20, barge_ins: int = 5,
                                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The offline stack (piper, whisper, the rule engine)."""
    say = log or (lambda line: None)
    script = script_of(turns)
    engine: list[float] = []
    with tempfile.TemporaryDirectory(prefix="flowengine-bench-") as tmp:
        async with demo_call(Path(tmp), [*script, HOURS_QUESTION, INTERRUPTION]) as demo:
            caller = await drive(demo, script, barge_ins, say)
            for live in demo.service.live.values():
                if live.conversation is not None:
                    engine = [t.engine_ms for t in live.conversation.turns if t.engine_ms is not None]
    return {
        "turns": len(caller.v2v),
        "voice_to_voice_ms": pcts(caller.v2v),
        "engine_ms": pcts(engine),
        "barge_in_stop_ms": pcts(caller.stops),
        "barge_ins": len(caller.stops),
        "barge_ins_resumed": caller.resumed,
        "measured_at": "caller (voice-to-voice, barge-in); engine (engine_ms)",
        "definitions": {"barge_in_stop_ms": BARGE_IN_STOP_MS},
        "machine": machine(),
    }


def script_of(turns: int, cycle: list[str] | None = None) -> list[str]:
    cycle = cycle or CALLER_TURNS[:-1]
    return [cycle[i % len(cycle)] for i in range(turns)]


async def drive(demo: DemoCall, script: list[str], barge_ins: int, say: Callable[[str], None],
                 expect: Callable[[str], None] = lambda text: None) -> Drive:
    """The caller's side: `script` turn by turn, then `barge_ins` interruptions of a long answer. `expect` is
    told each line before it is said (a fake recogniser's script)."""
    caller = demo.caller
    texts = [*script, HOURS_QUESTION, INTERRUPTION]
    prompts = dict(zip(texts, demo.prompts, strict=True))
    out = Drive()
    if await caller.agent_speech_after(demo.t0, timeout=20) is not None:
        await caller.quiet_for(1.0)
    for index, text in enumerate(script, 1):
        expect(text)
        ended = await caller.say(prompts[text], 16000)
        out.said += 1
        heard = await caller.agent_speech_after(ended, timeout=20)
        if heard is not None:
            out.v2v.append((heard.start - ended) * 1000)
            say(f"turn {index}: {out.v2v[-1]:.0f} ms voice-to-voice")
        await caller.quiet_for(1.0)
    for trial in range(barge_ins):
        expect(HOURS_QUESTION)
        ended = await caller.say(prompts[HOURS_QUESTION], 16000)
        out.said += 1
        reply = await caller.agent_speech_after(ended, timeout=20)
        if reply is None:
            continue
        await _sleep_until(reply.start + 1.0)  # the agent is well into its answer
        if reply.end and reply.end < time.perf_counter():
            say(f"barge-in {trial + 1}: the answer was over before the interruption; not counted")
            continue
        expect(INTERRUPTION)
        first, last = await caller.say_timed(prompts[INTERRUPTION], 16000)
        out.said += 1
        stopped = barge_in_stop(caller.agent_audio(first, last))
        if stopped is None:
            say(f"barge-in {trial + 1}: no agent audio after the caller began; not counted")
        else:
            out.stops.append((stopped[0] - first) * 1000)
            out.resumed += stopped[1]
            went_on = " (it went on after a pause first)" if stopped[1] else ""
            say(f"barge-in {trial + 1}: the caller heard the agent stop {out.stops[-1]:.0f} ms after it began"
                f"{went_on}")
        # the interruption is a caller turn too: with smart turn its answer may come after a plain sentence's wait
        if await caller.agent_speech_after(last, timeout=5) is not None:
            await caller.quiet_for(1.5)
    return out


def barge_in_stop(voiced: list[float]) -> tuple[float, bool] | None:
    """When the caller last heard the agent, from the arrival times of the frames carrying its voice since the
    caller began; and whether the agent went on after a pause (a false interruption) before stopping."""
    if not voiced:
        return None
    resumed = any(b - a > RESUMED_GAP_S for a, b in itertools.pairwise(voiced))
    return voiced[-1], resumed


async def _sleep_until(t: float) -> None:
    delay = t - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)
