"""`bench conversation --calls N`: N simultaneous real AI calls (offline stack) through a private Asterisk, per N.

The engine (demo flow and receptionist: whisper, the rule engine, piper) runs in this process; the
callers run in another (`conversation_callers`). Per N: voice-to-voice at the callers, the engine's
media clock (worst tick lateness, ticks later than the stall limit), the engine's CPU per call, and
the largest N within the budget.
"""
from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from flowengine.ai.aicall import AICallService
from flowengine.bench.conversation import pcts
from flowengine.bench.conversation_callers import CallerPlan, run_callers
from flowengine.bench.demo import write_demo_files
from flowengine.bench.host import cpu_steal_seconds, machine
from flowengine.bench.peer import peer_process
from flowengine.config import load_config
from flowengine.media.clock import MediaClock
from flowengine.providers import priority
from flowengine.providers.tts import synth_cache
from flowengine.runtime import Engine

V2V_P95_BUDGET_MS = 1500.0
STALL_MS = 60.0
MAX_UNANSWERED = 0.02
PEER_TIMEOUT_S = 120.0
# The callers' first lines are spread over about one turn of the script (a line, the reply, a pause: 6-8 s), so the
# N calls are at different points of their dialogues, as a busy hour's calls are; `stagger_s=0` is the worst case,
# every caller on the same question in the same second (docs/decisions.md, "Transcriptions for nobody, and calls in step")
DEFAULT_STAGGER_S = 6.0
DEFINITIONS = {
    "voice_to_voice_ms": "at the callers' process: from the caller's last speech sample leaving to the start of "
                         "the agent's reply as the caller's VAD heard it",
    "voice_to_voice_ms_by_turn": "the same, per turn of the callers' scripts (first line, second...): in step "
                                 "(stagger 0) every caller says the same line in the same seconds",
    "clock": "the engine's shared 20 ms media clock over the window: worst tick lateness and ticks later than "
             f"{STALL_MS:g} ms (stalls)",
    "cpu_percent_per_call": "the engine process's CPU time over the window / window / calls, in % of one core "
                            "(Asterisk and the callers' process excluded; they are reported beside it)",
    "stt_wait_ms": "end-of-turn decision -> transcript (queue and compute not hidden behind the VAD's stop time)",
    "endpointing_ms": "end of the caller's speech -> end-of-turn decision (stop time, and a held turn's wait)",
    "engine_voice_to_voice_ms": "the same turn as the engine sees it: endpointing + provider waits + engine",
    "cpu_ms_per_turn": "the engine process's CPU time over the window / answered turns: the cost of a turn, "
                       "which unlike the share of a core does not fall when the host starves the engine",
    "tts_cache": "sentences the offline voice took from its cache of recent ones / synthesised",
    "callers_cpu_percent": "the callers' process's CPU time over the window / window, in % of one core: the bench's "
                           "own phones, on the same cores as the engine (not there in a deployment)",
    "stagger_s": "caller i of N says its first line i * stagger_s / N seconds after the first caller (0: in step)",
    "within_budget": f"voice-to-voice p95 <= {V2V_P95_BUDGET_MS:g} ms, no stall over {STALL_MS:g} ms, at most "
                     f"{MAX_UNANSWERED:.0%} unanswered turns",
}


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) of a process so far, 0.0 if unreadable."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


async def _recv(conn: Connection, timeout: float) -> Any:
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, conn.poll, timeout):
        raise TimeoutError("the callers' process did not answer")
    return conn.recv()


def _turn_stats(service: AICallService, started: float, ended: float) -> dict[str, Any]:
    convs = [live.conversation for live in [*service.live.values(), *service.recent] if live.conversation]
    turns = [t for c in convs for t in c.turns if started <= t.decided_at <= ended]
    return {"stt_ms": pcts([t.stt_ms for t in turns if t.stt_ms]),
            "stt_wait_ms": pcts([t.stt_wait_ms for t in turns]),
            "endpointing_ms": pcts([t.endpointing_ms for t in turns]),
            "engine_ms": pcts([t.engine_ms for t in turns if t.engine_ms is not None]),
            "tts_first_audio_ms": pcts([t.tts_first_audio_ms for t in turns if t.tts_first_audio_ms is not None]),
            "engine_voice_to_voice_ms": pcts([t.voice_to_voice_ms for t in turns if t.voice_to_voice_ms is not None])}


async def _measure(n: int, engine: Engine, peer: Connection, asterisk_pid: int, callers_cpu: list[float]) -> dict[str, Any]:
    """`callers_cpu`: the callers' process's CPU seconds at the end of the previous N (updated)."""
    service = engine.aicalls
    assert service is not None
    clock = MediaClock.for_loop()
    peer.send(("run", n))
    if await _recv(peer, PEER_TIMEOUT_S + 2 * n) != "dialled":
        raise RuntimeError("the callers' process did not dial")
    clock.lateness_samples = []
    cpu0, ast0, wall0, steal0 = time.process_time(), _cpu_of(asterisk_pid), time.perf_counter(), cpu_steal_seconds()
    load0 = os.getloadavg()[0]
    cache = synth_cache.SHARED
    hits0, misses0 = cache.hits, cache.misses
    report = await _recv(peer, PEER_TIMEOUT_S * 4)
    wall = time.perf_counter() - wall0
    callers_cpu_s = report["cpu_s"] - callers_cpu[0]  # since the previous N: includes this N's dialling
    callers_cpu[0] = report["cpu_s"]
    cpu, ast = time.process_time() - cpu0, _cpu_of(asterisk_pid) - ast0
    steal1 = cpu_steal_seconds()
    lateness = [s * 1000 for s in clock.lateness_samples or []]
    clock.lateness_samples = None
    v2v = [ms for c in report["callers"] for ms in c["v2v_ms"]]
    unanswered = sum(c["unanswered"] for c in report["callers"])
    errors = [c["error"] for c in report["callers"] if c["error"]]
    stalls = sum(1 for ms in lateness if ms > STALL_MS)
    v2v_pcts = pcts(v2v)
    said = len(v2v) + unanswered
    within = (bool(v2v) and (v2v_pcts["p95"] or 0.0) <= V2V_P95_BUDGET_MS and stalls == 0 and not errors
              and unanswered <= MAX_UNANSWERED * said)
    await asyncio.sleep(2.0)  # the hung-up calls' AI records settle before the next N
    return {
        "calls": n, "turns": len(v2v), "unanswered_turns": unanswered, "errors": errors[:5],
        "voice_to_voice_ms": v2v_pcts, "voice_to_voice_max_ms": max(v2v, default=None),
        "voice_to_voice_ms_by_turn": [pcts([c["v2v_ms"][k] for c in report["callers"] if len(c["v2v_ms"]) > k])
                                      for k in range(max((len(c["v2v_ms"]) for c in report["callers"]), default=0))],
        **_turn_stats(service, wall0, wall0 + wall),
        "clock": {"worst_tick_ms": round(max(lateness, default=0.0), 1), "stalls_over_60ms": stalls,
                  "ticks": len(lateness)},
        "cpu_percent_per_call": round(cpu / wall / n * 100, 1),
        "cpu_ms_per_turn": round(cpu * 1000 / len(v2v), 1) if v2v else None,
        "tts_cache": {"hits": cache.hits - hits0, "misses": cache.misses - misses0},
        "engine_cpu_percent": round(cpu / wall * 100, 1),
        "asterisk_cpu_percent": round(ast / wall * 100, 1),
        "callers_cpu_percent": round(callers_cpu_s / wall * 100, 1),
        "window_s": round(wall, 1),
        "steal_percent": None if steal0 is None or steal1 is None else round((steal1 - steal0) / wall * 100, 1),
        "load_average_1m": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "within_budget": within,
    }


async def run_calls_bench(counts: tuple[int, ...], turns: int = 5, *, stop_when_over: bool = False,
                          realtime: bool = False, stagger_s: float = DEFAULT_STAGGER_S,
                          log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """One private Asterisk and engine for every N in `counts`, in order; `realtime`: the engine's
    `media.realtime` (and the callers' loop likewise); `stagger_s`: the callers' first lines spread over this
    (0: all at once, each caller on the same line of the script at the same moment)."""
    say = log or (lambda line: None)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="flowengine-bench-calls-") as tmp:
        folder = Path(tmp)
        config = load_config(None, {
            "FLOWENGINE_ASTERISK__PRIVATE_DIR": str(folder / "asterisk"),
            "FLOWENGINE_FLOWS_DIR": str(write_demo_files(folder)),
            "FLOWENGINE_ROUTES__DEFAULT_FLOW": "demo",
            "FLOWENGINE_SPEECH__CACHE_DIR": str(folder / "speech"),
            "FLOWENGINE_STORE__URL": f"sqlite+aiosqlite:///{folder / 'engine.db'}",
            "FLOWENGINE_MEDIA__REALTIME": "1" if realtime else "0",
        })
        engine = Engine(config)
        await engine.start()
        try:
            assert engine.providers is not None and engine.ari is not None
            await asyncio.gather(engine.providers.tts("piper").warm_up(), engine.providers.stt("whisper").warm_up())
            cfg = engine.config.asterisk
            plan = CallerPlan(cfg.ari_url, cfg.ari_username, cfg.ari_password.get_secret_value(), turns=turns,
                              realtime=engine.config.media.realtime, stagger_s=stagger_s)
            with peer_process(run_callers, plan, join_timeout=10, stop=True) as peer:
                ready = await _recv(peer, PEER_TIMEOUT_S)
                if not isinstance(ready, tuple) or ready[0] != "ready":
                    raise RuntimeError("the callers' process did not start")
                callers_cpu = [float(ready[1])]
                for n in counts:
                    say(f"{n} calls ...")
                    run = await _measure(n, engine, peer, _asterisk_pid(folder), callers_cpu)
                    runs.append(run)
                    say(f"{n} calls: v2v p50 {run['voice_to_voice_ms']['p50']} p95 {run['voice_to_voice_ms']['p95']} ms, "
                        f"worst tick {run['clock']['worst_tick_ms']} ms, stalls {run['clock']['stalls_over_60ms']}, "
                        f"CPU/call {run['cpu_percent_per_call']} %, within budget: {run['within_budget']}")
                    if stop_when_over and not run["within_budget"]:
                        break
        finally:
            await engine.aclose()
    passing = [r["calls"] for r in runs if r["within_budget"]]
    return {
        "runs": runs,
        "max_calls_within_budget": max(passing, default=0),
        "budget": {"voice_to_voice_p95_ms": V2V_P95_BUDGET_MS, "stall_ms": STALL_MS},
        "turns_per_call": turns,
        "stagger_s": stagger_s,
        "host": {"sched_autogroup": _autogroup(), "loop_nice": _loop_nice(), "loop_realtime": _loop_realtime()},
        "definitions": DEFINITIONS,
        "machine": machine(),
    }


def _autogroup() -> bool | None:
    """Whether the kernel groups CPU time by session: then nice values rank threads within this session only, and
    the host's other sessions (other users' benchmarks) each take an equal share whatever our priorities."""
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return None


def _loop_nice() -> int:
    return priority.MEDIA_NICE if priority.loop_raised() else os.getpriority(os.PRIO_PROCESS, 0)


def _loop_realtime() -> bool:
    return hasattr(os, "sched_getscheduler") and os.sched_getscheduler(0) & ~getattr(os, "SCHED_RESET_ON_FORK", 0) in (
        getattr(os, "SCHED_RR", -1), getattr(os, "SCHED_FIFO", -1))


def _asterisk_pid(folder: Path) -> int:
    for path in (folder / "asterisk").rglob("asterisk.pid"):
        with suppress(OSError, ValueError):
            return int(path.read_text().strip())
    return 0
