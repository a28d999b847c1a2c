"""`bench conversation --providers cloud`: the conversation bench with the AI on Deepgram, ElevenLabs and Anthropic
(their local fakes, each answer paying a network delay): the providers' time and the engine's own per turn, and
which ends a caller's turn sooner, with fewer false cuts: the recogniser's end of speech or the VAD."""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowengine.ai.aicall import LiveAICall
from flowengine.ai.voice.metrics import TurnMetrics
from flowengine.bench.cloud import VENDORS, CloudStack, cloud_stack
from flowengine.bench.conversation import BARGE_IN_STOP_MS, HOURS_QUESTION, INTERRUPTION, drive, pcts, script_of
from flowengine.bench.demo import CALLER_TURNS, PAUSE, PAUSE_S, demo_call
from flowengine.bench.media import machine
from flowengine.media.vad import DEFAULT_STOP_SECS

ENGINE_MS_TARGET = 20.0
# the caller's lines: one breath each, and some with a pause mid-thought (longer than the recogniser's endpointing
# and the VAD's default stop time, shorter than 0.6 s) that neither should take for the end of the turn
CLOUD_TURNS = [CALLER_TURNS[0], f"My number is five five five{PAUSE}one two three four.", CALLER_TURNS[1],
               CALLER_TURNS[2], f"I would like to come on Tuesday and{PAUSE}bring my daughter as well.",
               CALLER_TURNS[3], CALLER_TURNS[4]]
COMPARED_STOP_SECS = (DEFAULT_STOP_SECS, 0.6)
DEFINITIONS = {
    "barge_in_stop_ms": BARGE_IN_STOP_MS,
    "engine_ms": "the engine's own time from the end-of-turn decision to the reply's first audio queued, the "
                 "providers' time (stt_wait_ms + llm_first_token_ms + tts_first_audio_ms) taken out",
    "stt_wait_ms": "from the end-of-turn decision to the recogniser's final transcript (its Finalize answered)",
    "endpointing_ms": "from the end of the caller's speech (as the VAD heard it) to the end-of-turn decision",
    "turn_ends": "by_recogniser: the recogniser's end of speech came while the VAD still waited out its stop "
                 "time; false_cuts: turns beyond the caller's utterances (one cut in two before the caller had "
                 "finished; utterances_with_a_pause have "
                 f"{PAUSE_S:g} s of silence mid-thought), false_cuts_by_recogniser: the caller went on within the "
                 "VAD's stop time after the recogniser ended the turn, false_cuts_by_vad: the rest",
}


async def run_cloud_conversation_bench(turns: int = 20, barge_ins: int = 5, *, network_delay_ms: float = 50.0,
                                       stop_secs: tuple[float, ...] = COMPARED_STOP_SECS,
                                       log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """One run per VAD stop time in `stop_secs` (the default first: the AI has no `vad_config` then)."""
    say = log or (lambda line: None)
    runs = []
    for stop in stop_secs:
        say(f"VAD stop_secs {stop:g}: {turns} turns, {barge_ins} barge-ins on {', '.join(VENDORS.values())} "
            f"(+{network_delay_ms:g} ms per answer)")
        runs.append(await _run(turns, barge_ins, network_delay_ms / 1000, stop, say))
    return {
        "providers": "cloud",
        "vendors": dict(VENDORS),
        "network_delay_ms": network_delay_ms,
        "runs": runs,
        "turn_ending": compare(runs),
        "measured_at": "caller (voice_to_voice_ms, barge_in_stop_ms); engine (per turn, turn_ends)",
        "definitions": DEFINITIONS,
        "machine": machine(),
    }


async def _run(turns: int, barge_ins: int, delay_s: float, stop: float, say: Callable[[str], None]) -> dict[str, Any]:
    script = script_of(turns, CLOUD_TURNS)
    with tempfile.TemporaryDirectory(prefix="flowengine-bench-") as tmp:
        async with cloud_stack(delay_s) as stack:
            fields = stack.ai_fields(None if stop == DEFAULT_STOP_SECS else stop)
            async with demo_call(Path(tmp), [*script, HOURS_QUESTION, INTERRUPTION], ai_fields=fields,
                                 settings=stack.settings()) as demo:
                caller = await drive(demo, script, barge_ins, say, expect=stack.expect)
                live = next(iter(demo.service.live.values()), None)
                report = run_report(live, stack, stop)
    ends = report["turn_ends"]
    ends["utterances"] = caller.said
    ends["utterances_with_a_pause"] = sum(PAUSE in line for line in script)
    ends["false_cuts"] = max(0, report["turns"] - caller.said)  # by either, the caller's lines being known
    ends["false_cuts_by_vad"] = max(0, ends["false_cuts"] - ends["false_cuts_by_recogniser"])
    report.update({
        "voice_to_voice_ms": pcts(caller.v2v),
        "caller_turns_answered": len(caller.v2v),
        "barge_in_stop_ms": pcts(caller.stops),
        "barge_ins": len(caller.stops),
        "barge_ins_resumed": caller.resumed,
    })
    return report


def run_report(live: LiveAICall | None, stack: CloudStack | None, stop: float) -> dict[str, Any]:
    """The engine's side of one run: per-turn times and how turns ended."""
    conversation = live.conversation if live is not None else None
    turns: list[TurnMetrics] = [t for t in (conversation.turns if conversation else []) if t.ended_by]
    engine = [t.engine_ms for t in turns if t.engine_ms is not None]
    engine_pcts = pcts(engine)
    p95 = engine_pcts["p95"]

    def of(name: str, only: str = "") -> dict[str, float | None]:
        values = [getattr(t, name) for t in turns if (not only or t.ended_by == only)]
        return pcts([float(v) for v in values if v is not None])

    return {
        "vad_stop_secs": stop,
        "turns": len(turns),
        "engine_ms": engine_pcts,
        "engine_ms_max": round(max(engine), 1) if engine else None,
        "engine_ms_target": ENGINE_MS_TARGET,
        "engine_ms_within_target": p95 is not None and p95 <= ENGINE_MS_TARGET,  # at p95
        "provider_ms": {name: of(name) for name in ("stt_wait_ms", "llm_first_token_ms", "tts_first_audio_ms")},
        "engine_voice_to_voice_ms": pcts([t.voice_to_voice_ms for t in turns if t.voice_to_voice_ms is not None]),
        "turn_ends": {
            "by_recogniser": sum(t.ended_by == "recogniser" for t in turns),
            "by_vad": sum(t.ended_by == "vad" for t in turns),
            "false_cuts": conversation.false_cuts if conversation else 0,  # the run counts them over its utterances
            "false_cuts_by_recogniser": conversation.false_cuts if conversation else 0,
            "endpointing_ms": of("endpointing_ms"),
            "endpointing_ms_by_recogniser": of("endpointing_ms", "recogniser"),
            "endpointing_ms_by_vad": of("endpointing_ms", "vad"),
        },
        "provider_requests": _requests(stack),
        "per_turn": [_turn(t) for t in turns],
    }


def _turn(t: TurnMetrics) -> dict[str, Any]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 1)

    return {"index": t.index, "ended_by": t.ended_by, "endpointing_ms": r(t.endpointing_ms),
            "stt_wait_ms": r(t.stt_wait_ms), "llm_first_token_ms": r(t.llm_first_token_ms),
            "tts_first_audio_ms": r(t.tts_first_audio_ms), "engine_ms": r(t.engine_ms),
            "voice_to_voice_ms": r(t.voice_to_voice_ms)}


def _requests(stack: CloudStack | None) -> dict[str, int]:
    """Sockets / requests each fake served: every provider was really asked."""
    if stack is None:
        return {}
    return {"stt_sockets": len(stack.stt.requests), "tts_sockets": len(stack.tts.requests),
            "llm_requests": len(stack.llm.requests)}


def compare(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Which VAD setting ended turns sooner (endpointing p50) and with fewer false cuts."""
    measured = [r for r in runs if r["turn_ends"]["endpointing_ms"]["p50"] is not None]
    if len(measured) < 2:
        return {"sooner": None, "fewer_false_cuts": None, "summary": "fewer than two runs measured"}
    sooner = min(measured, key=lambda r: r["turn_ends"]["endpointing_ms"]["p50"])
    fewer = _fewest(measured, "false_cuts")

    def name(r: dict[str, Any]) -> str:
        ends = r["turn_ends"]
        return (f"stop_secs {r['vad_stop_secs']:g} (endpointing p50 {ends['endpointing_ms']['p50']} ms, "
                f"{ends['by_recogniser']} of {r['turns']} turns ended by the recogniser, "
                f"{ends['false_cuts']} false cuts ({ends.get('false_cuts_by_recogniser', 0)} by the recogniser))")

    summary = f"sooner: {name(sooner)}; " + ("as many false cuts in every run" if fewer is None
                                              else f"fewer false cuts: {name(fewer)}")
    return {"sooner": sooner["vad_stop_secs"],
            "fewer_false_cuts": None if fewer is None else fewer["vad_stop_secs"],
            "summary": summary}


def _fewest(runs: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The run with the fewest `turn_ends[key]`; None when every run has as many."""
    ordered = sorted(runs, key=lambda r: r["turn_ends"].get(key, 0))
    return None if ordered[0]["turn_ends"].get(key, 0) == ordered[-1]["turn_ends"].get(key, 0) else ordered[0]
