"""The callers' process of `bench conversation --calls N`: N scripted callers dial in through Asterisk and time each reply.

The callers run in a process of their own (their own ARI application, event loop and media clock),
so the engine's process carries only what a real engine carries. Each caller speaks the corpus's
booking lines in one of the corpus's voices (espeak-ng, phone band: not the agent's voice).
"""
from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import numpy.typing as npt

from flowengine.asterisk.ari.client import AriClient
from flowengine.bench.caller import ScriptedCaller
from flowengine.bench.corpus import DIALOGUES, PAUSE, VOICES, Line, render
from flowengine.providers import priority

CALLERS_APP = "flowengine-bench-callers"
REPLY_TIMEOUT_S = 20.0
GREETING_TIMEOUT_S = 40.0
QUIET_S = 1.0  # the caller waits for the agent to be silent this long before its next line
THINK_S = (0.2, 1.2)  # then a random pause, so the calls' turns do not line up


@dataclass(frozen=True)
class CallerPlan:
    """Where to dial and what each caller says."""

    ari_url: str
    username: str
    password: str
    endpoint: str = "Local/1000@flowengine-inbound"
    turns: int = 5
    seed: int = 19
    realtime: bool = False  # the callers' loop as the engine's (`media.realtime`)
    # caller i of n says its first line i * stagger_s / n later than the first caller: calls in a busy hour are at
    # different points of their dialogues; 0 puts every caller on the same line at the same moment (worst case)
    stagger_s: float = 0.0


@dataclass
class CallerResult:
    voice: str
    v2v_ms: list[float] = field(default_factory=list)
    unanswered: int = 0
    greeted: bool = False
    error: str = ""


def script_lines() -> list[Line]:
    """The booking dialogue without its goodbye (which ends the call) and without inner punctuation or pause
    marks: this bench measures capacity, not turn-taking at commas (`bench understanding` does that)."""
    booking = next(d for d in DIALOGUES if d.name == "booking")
    return [Line(line.text.replace(PAUSE, " ").replace(",", "")) for line in booking.lines
            if "goodbye" not in line.text.lower()]


def prompts() -> dict[str, list[npt.NDArray[np.int16]]]:
    """Every voice's lines, rendered once (clean line: the network adds no noise here)."""
    lines = script_lines()
    return {voice.name: [render(line, voice) for line in lines] for voice in VOICES}


def run_callers(conn: Connection, plan: CallerPlan) -> None:
    """Process entry: render the prompts, say "ready", then serve ("run", n) requests until "stop"."""
    asyncio.run(_serve(conn, plan))


async def _serve(conn: Connection, plan: CallerPlan) -> None:
    rendered = prompts()
    # The callers stand for phones on other machines: their clock must not be the one that stalls.
    priority.prioritise_loop(asyncio.get_running_loop(), realtime=plan.realtime)
    ari = AriClient(plan.ari_url, plan.username, plan.password, CALLERS_APP)
    await ari.start()
    loop = asyncio.get_running_loop()
    try:
        conn.send(("ready", time.process_time()))  # the prompts' rendering is not a call's
        while True:
            request = await loop.run_in_executor(None, conn.recv)
            if request == "stop":
                return
            _, n = request
            results = await _run(ari, plan, rendered, n, lambda: conn.send("dialled"))
            conn.send({"callers": [r.__dict__ for r in results], "cpu_s": time.process_time()})
    finally:
        await ari.aclose()


async def _run(ari: AriClient, plan: CallerPlan, rendered: dict[str, list[npt.NDArray[np.int16]]], n: int,
               on_dialled: Any) -> list[CallerResult]:
    callers = [ScriptedCaller(ari) for _ in range(n)]
    results = [CallerResult(VOICES[i % len(VOICES)].name) for i in range(n)]
    try:
        for caller in callers:  # one after another, as Asterisk and the engine would see a busy hour's arrivals
            await caller.dial(plan.endpoint, timeout=30)
        on_dialled()
        await asyncio.gather(*(_talk(c, r, rendered[r.voice], plan, random.Random(plan.seed + i), i * plan.stagger_s / n)
                               for i, (c, r) in enumerate(zip(callers, results, strict=True))))
    finally:
        for caller in callers:
            with contextlib.suppress(Exception):
                await caller.hangup()
    return results


async def _talk(caller: ScriptedCaller, result: CallerResult, lines: list[npt.NDArray[np.int16]], plan: CallerPlan,
                rng: random.Random, offset_s: float) -> None:
    try:
        t0 = time.perf_counter() - 30  # the greeting may have begun while the other calls were dialled
        if await caller.agent_speech_after(t0, timeout=GREETING_TIMEOUT_S) is not None:
            result.greeted = True
            await caller.quiet_for(QUIET_S)
        await asyncio.sleep(offset_s + rng.uniform(*THINK_S))
        for k in range(plan.turns):
            ended = await caller.say(lines[k % len(lines)], 16000)
            heard = await caller.agent_speech_after(ended, timeout=REPLY_TIMEOUT_S)
            if heard is None:
                result.unanswered += 1
            else:
                result.v2v_ms.append(round((heard.start - ended) * 1000, 1))
            await caller.quiet_for(QUIET_S)
            await asyncio.sleep(rng.uniform(*THINK_S))
    except Exception as exc:  # noqa: BLE001  one broken call is reported, never stops the others
        result.error = f"{type(exc).__name__}: {exc}"
