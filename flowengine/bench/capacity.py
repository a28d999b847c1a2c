"""`bench capacity`: how many concurrent AI calls (cloud speech, cloud LLM) one engine process carries."""
from __future__ import annotations

import asyncio
import gc
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from flowengine import heap
from flowengine.ai.providers import ProviderPool
from flowengine.ai.voice.conversation import Conversation, ConversationSettings
from flowengine.ai.voice.metrics import TurnMetrics
from flowengine.bench.capacity_callers import Script, run_callers
from flowengine.bench.capacity_providers import API_KEY, Endpoints, run_providers
from flowengine.bench.host import cpu_steal_seconds, machine
from flowengine.bench.peer import peer_process
from flowengine.media.clock import MediaClock
from flowengine.media.frames import MediaInbox
from flowengine.media.session import MediaSession
from flowengine.providers import credentials
from flowengine.providers.credentials import Access
from flowengine.providers.llm import create_llm
from flowengine.providers.llm.base import ChatMessage, LLMProvider
from flowengine.providers.usage import UsageMeter

__all__ = ["DEFAULT_CALLS", "Options", "machine", "passes", "providers", "run_capacity_bench", "run_once"]

DEFAULT_CALLS = (1, 25, 50, 100, 150, 200)
MAX_CALLS = 1000
ENGINE_MODEL = "anthropic.claude-sonnet-4-5"
STT, TTS = "deepgram", "elevenlabs"
MARGIN_MS = 100.0  # the target: voice-to-voice p95 within this of one call's
MAX_UNANSWERED = 0.02  # turns the agent did not answer within the callers' timeout
PEER_TIMEOUT = 30.0
CLOSE_TIMEOUT = 20.0
DEFINITIONS = {
    "voice_to_voice_ms": "measured at the callers' process: from the kernel send of the caller's last speech "
                         "frame to the kernel arrival of the first agent frame carrying voice (the reply), "
                         "turns whose speech ended inside the measured window",
    "engine_ms": "the engine's own part of each turn (TurnMetrics.engine_ms: end-of-turn decision to first "
                 "reply audio queued, provider waits excluded)",
    "scope": "the engine's capacity: RTP over loopback from a separate callers process, no Asterisk (its own "
             "limits are measured elsewhere); the providers are local fakes of Deepgram streaming STT, "
             "ElevenLabs streaming TTS and Anthropic Messages in a third process, each answer after "
             "`provider_delay_ms` (network and think time)",
    "call_setup_ms": "each call's synchronous set-up in the engine (media session, LLM client, conversation), "
                     "before the window: the event loop, so every call's media, waits for it",
    "engine_cpu_percent": "CPU time of the engine process over the window, in % of one core (it runs on one)",
}


@dataclass(frozen=True)
class Options:
    seconds: float = 25.0  # measured window of each N
    baseline_seconds: float = 40.0  # N=1's window: more turns for its p95
    warmup: float = 3.0
    delay_ms: float = 50.0
    script: Script = field(default_factory=Script)


@dataclass
class _Call:
    session: MediaSession
    inbox: MediaInbox
    conversation: Conversation
    llm: LLMProvider
    task: asyncio.Task[str] | None = None


@contextmanager
def providers(delay_ms: float) -> Iterator[tuple[Endpoints, Connection]]:
    """The fakes' process for the duration of the block."""
    with peer_process(run_providers, delay_ms / 1000, join_timeout=5, stop=True) as parent:
        endpoints: Endpoints = _recv(parent)
        yield endpoints, parent


def _recv(conn: Connection, timeout: float = PEER_TIMEOUT) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError("benchmark peer did not answer")
    return conn.recv()


def _provider_cpu(conn: Connection) -> float:
    conn.send("cpu")
    cpu: float = _recv(conn)
    return cpu


def _make_call(i: int, clock: MediaClock, pool: ProviderPool, endpoints: Endpoints) -> _Call:
    inbox = MediaInbox()
    # As CallMedia.attach makes it: a continuous stream out (u-law silence between replies), the default VAD
    session = MediaSession(on_audio=inbox.put, on_event=inbox.put, idle_silence=True, clock=clock,
                           name=f"capacity-{i}")
    meter = UsageMeter()
    llm = create_llm(ENGINE_MODEL, api_key=API_KEY, base_url=endpoints.anthropic, parameter={})
    conversation = Conversation(
        inbox=inbox, output=session.output, stt=meter.stt(pool.stt(STT)), llm=meter.llm(llm),
        tts=meter.tts(pool.tts(TTS)), messages=[ChatMessage("system", "You book dental appointments.")],
        # smart turn off: the fakes' words are plain sentences, whose extra wait (measured by `bench turns`) would
        # hide the recogniser's time this bench reports
        settings=ConversationSettings(language="en-US", smart_turn=False))
    return _Call(session, inbox, conversation, llm)


async def _engine(calls_n: int, seconds: float, warmup: float, endpoints: Endpoints, peer: Connection,
                  fakes: Connection) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    credentials.configure({STT: Access(api_key=API_KEY, base_url=endpoints.deepgram),
                           TTS: Access(api_key=API_KEY, base_url=endpoints.elevenlabs)})
    clock = MediaClock.for_loop()
    pool = ProviderPool()
    pool.stt(STT)  # the shared providers exist before the first call, as after `serve`'s warm-up
    pool.tts(TTS)
    heap.settle(reason="capacity bench start-up")  # as `serve` does before it takes calls
    calls: list[_Call] = []
    setup_ms: list[float] = []  # each call's synchronous set-up: the event loop (every call's media) waits for it
    for i in range(calls_n):
        began = time.perf_counter()
        calls.append(_make_call(i, clock, pool, endpoints))
        setup_ms.append((time.perf_counter() - began) * 1000)
    try:
        for call in calls:
            await call.session.start()
        peer_ports = await loop.run_in_executor(None, _recv, peer)
        for call, port in zip(calls, peer_ports, strict=True):
            call.session.set_remote("127.0.0.1", port)
        for call in calls:
            call.task = asyncio.create_task(call.conversation.run(), name="capacity-conversation")
        peer.send([c.session.local_port for c in calls])
        await asyncio.sleep(warmup)
        clock.max_lateness, clock.late_ticks, clock.skipped_ticks = 0.0, 0, 0
        before = _snapshot(calls, fakes)
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        ended = time.perf_counter()
        after = _snapshot(calls, fakes)
        ticks = {"late": clock.late_ticks, "skipped": clock.skipped_ticks,
                 "max_lateness_ms": round(clock.max_lateness * 1000, 1)}
        callers = await loop.run_in_executor(None, _recv, peer, PEER_TIMEOUT + seconds)
        ended_early = sum(1 for c in calls if c.task is not None and c.task.done())
    finally:
        await _close(calls, pool)
        await clock.aclose()
        gc.unfreeze()  # the next run settles its own start-up
    turns = [t for c in calls for t in c.conversation.turns if started <= t.decided_at < ended]
    return {"before": before, "after": after, "ticks": ticks, "turns": turns, "callers": callers, "setup_ms": setup_ms,
            "failures": sum(c.conversation.provider_failures for c in calls),
            "ended_early": ended_early}


async def _close(calls: list[_Call], pool: ProviderPool) -> None:
    for call in calls:
        call.conversation.end("bench over")
    tasks = [c.task for c in calls if c.task is not None]
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for call in calls:
        await call.session.aclose()
        await call.llm.aclose()
    await pool.aclose()
    credentials.configure({})


def _snapshot(calls: list[_Call], fakes: Connection) -> dict[str, Any]:
    counters = [c.session.counters() for c in calls]
    return {
        "cpu": time.process_time(),
        "wall": time.perf_counter(),
        "steal": cpu_steal_seconds(),
        "providers_cpu": _provider_cpu(fakes),
        "inbox_dropped": sum(c.inbox.dropped for c in calls),
        **{k: sum(c.get(k, 0) for c in counters) for k in ("rx_packets", "tx_packets", "jitter_lost",
                                                          "jitter_late", "jitter_emitted")},
    }


def run_once(calls_n: int, seconds: float, endpoints: Endpoints, fakes: Connection, *, warmup: float = 3.0,
             script: Script | None = None, delay_ms: float = 50.0) -> dict[str, Any]:
    """N concurrent AI calls for `seconds` after `warmup`, against the running providers' process."""
    if not 1 <= calls_n <= MAX_CALLS:
        raise ValueError(f"calls must be 1..{MAX_CALLS}")
    with peer_process(run_callers, calls_n, warmup, seconds, script or Script(), join_timeout=PEER_TIMEOUT) as parent:
        result = asyncio.run(_engine(calls_n, seconds, warmup, endpoints, parent, fakes))
    return _report(calls_n, result, delay_ms)


def _report(calls_n: int, result: dict[str, Any], delay_ms: float) -> dict[str, Any]:
    before, after, callers = result["before"], result["after"], result["callers"]
    wall = after["wall"] - before["wall"]
    delta = {k: after[k] - before[k] for k in ("rx_packets", "tx_packets", "jitter_lost", "jitter_late",
                                                "jitter_emitted", "inbox_dropped")}
    turns: list[TurnMetrics] = result["turns"]
    v2v = [ms for _, ms in callers["v2v"]]
    per_call = [0] * calls_n
    for i, _ in callers["v2v"]:
        per_call[i] += 1
    steal = None if before["steal"] is None or after["steal"] is None else (after["steal"] - before["steal"])
    return {
        "calls": calls_n,
        "seconds": round(wall, 1),
        "provider_delay_ms": delay_ms,
        "turns": len(v2v),
        "turns_per_call": {"min": min(per_call), "max": max(per_call)},
        "engine_turns": len(turns),
        "unanswered_turns": callers["unanswered"],
        "voice_to_voice_ms": _pcts(v2v),
        "engine_ms": _pcts([t.engine_ms for t in turns if t.engine_ms is not None]),
        # the engine's view of each turn, to tell the engine's share from the providers' (fakes' CPU included)
        "engine_view_ms": {
            "endpointing": _pcts([t.endpointing_ms for t in turns]),
            "stt_wait": _pcts([t.stt_wait_ms for t in turns]),
            "llm_first_token": _pcts([t.llm_first_token_ms for t in turns if t.llm_first_token_ms is not None]),
            "tts_first_audio": _pcts([t.tts_first_audio_ms for t in turns if t.tts_first_audio_ms is not None]),
        },
        "engine_cpu_percent": round((after["cpu"] - before["cpu"]) / wall * 100, 1),
        "providers_cpu_percent": round((after["providers_cpu"] - before["providers_cpu"]) / wall * 100, 1),
        "callers_cpu_percent": round(callers["cpu_seconds"] / max(1e-9, callers["wall_seconds"]) * 100, 1),
        "steal_percent": None if steal is None else round(steal / wall * 100, 1),
        "frames": {
            # caller -> engine, over the window: lost / late in the jitter buffers, dropped by a conversation
            # that fell behind its inbox
            "in": {"received": delta["rx_packets"], "lost": delta["jitter_lost"], "late": delta["jitter_late"],
                   "inbox_dropped": delta["inbox_dropped"]},
            # engine -> callers (whole run, seen by the callers) and the clock's ticks over the window
            "out": {"sent": delta["tx_packets"], "lost": callers["lost"], "late": callers["late"],
                    "send_jitter_p99_ms": _round(callers["send_jitter_ms"]["p99"]),
                    "late_ticks": result["ticks"]["late"], "skipped_ticks": result["ticks"]["skipped"],
                    "max_tick_lateness_ms": result["ticks"]["max_lateness_ms"]},
        },
        "call_setup_ms": _pcts(result["setup_ms"]),
        "provider_failures": result["failures"],
        "conversations_ended_early": result["ended_early"],
    }


def _pcts(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    array = np.array(values, dtype=np.float64)
    return {"p50": round(float(np.percentile(array, 50)), 1), "p95": round(float(np.percentile(array, 95)), 1),
            "max": round(float(array.max()), 1)}


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 2)


def passes(run: dict[str, Any], baseline_p95: float) -> bool:
    """p95 voice-to-voice within MARGIN_MS of one call's, (almost) every turn answered, no provider failure."""
    p95 = run["voice_to_voice_ms"]["p95"]
    asked = run["turns"] + run["unanswered_turns"]
    return (p95 is not None and p95 <= baseline_p95 + MARGIN_MS and run["provider_failures"] == 0
            and run["unanswered_turns"] <= MAX_UNANSWERED * max(1, asked))


def run_capacity_bench(calls: tuple[int, ...] = DEFAULT_CALLS, options: Options | None = None, *, budget: float = 600.0,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """N=1 (the baseline), then each N of `calls` in order until one misses the target. Bounded: at most
    len(calls) runs, and no new one starts once `budget` seconds are spent."""
    opts = options or Options()
    say = log or (lambda line: None)
    sizes = sorted({n for n in calls if n > 1})
    runs: list[dict[str, Any]] = []
    began = time.monotonic()
    best = 0
    with providers(opts.delay_ms) as (endpoints, fakes):
        say(f"1 call for {opts.baseline_seconds:g} s (the baseline) ...")
        baseline = run_once(1, opts.baseline_seconds, endpoints, fakes, warmup=opts.warmup, script=opts.script,
                            delay_ms=opts.delay_ms)
        runs.append(baseline)
        base_p95 = baseline["voice_to_voice_ms"]["p95"]
        say(_line(baseline))
        if base_p95 is not None and baseline["provider_failures"] == 0:
            best = 1
            for n in sizes:
                if time.monotonic() - began > budget:
                    say(f"budget of {budget:g} s spent: stopping before {n} calls")
                    break
                say(f"{n} calls for {opts.seconds:g} s ...")
                run = run_once(n, opts.seconds, endpoints, fakes, warmup=opts.warmup, script=opts.script,
                               delay_ms=opts.delay_ms)
                run["ok"] = passes(run, base_p95)
                runs.append(run)
                say(_line(run))
                if not run["ok"]:
                    break
                best = n
    return {
        "max_calls": best,
        "capped": bool(runs) and runs[-1].get("ok", True) and len(runs) == len(sizes) + 1,
        "target": f"voice-to-voice p95 <= N=1's p95 + {MARGIN_MS:g} ms, <= {MAX_UNANSWERED:.0%} turns unanswered, "
                  "no provider failure",
        "baseline_p95_ms": base_p95,
        "runs": runs,
        "definitions": DEFINITIONS,
        "machine": machine(),
    }


def _line(run: dict[str, Any]) -> str:
    v2v, eng = run["voice_to_voice_ms"], run["engine_ms"]
    ok = "" if "ok" not in run else ("  ok" if run["ok"] else "  over")
    return (f"  {run['calls']:4d} calls: {run['turns']} turns, v2v p50 {v2v['p50']} p95 {v2v['p95']} ms, "
            f"engine p95 {eng['p95']} ms, engine CPU {run['engine_cpu_percent']} %, providers CPU "
            f"{run['providers_cpu_percent']} %, unanswered {run['unanswered_turns']}{ok}")
