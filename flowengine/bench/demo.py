"""The AI demo: a private Asterisk, a flow with `ai_talk`, and a scripted caller who books an appointment."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from flowengine.ai.aicall import AICallService, LiveAICall
from flowengine.asterisk.sip_accounts import SipAccounts, SipBind
from flowengine.bench.caller import Heard, ScriptedCaller
from flowengine.bench.corpus import PATIENTS_ON_FILE, Line, corpus_voice, render
from flowengine.config import load_config
from flowengine.providers.tts.base import TTSProvider
from flowengine.runtime import Engine

log = logging.getLogger(__name__)

DEMO_FLOW: dict[str, Any] = {
    "id": "demo", "name": "AI receptionist demo",
    "actions": [
        {"type": "answer"},
        {"id": "agent", "type": "ai_talk", "option": {"assistance_id": "receptionist"}},
        {"type": "talk", "option": {"text": "Thank you for calling Bright Smile Dental. Goodbye."}},
        {"type": "hangup"},
    ],
}
DEMO_AI: dict[str, Any] = {
    "name": "receptionist", "detail": "Books dental appointments (offline rule engine, not an LLM)",
    "engine_model": "rules.appointments", "init_prompt": "You are the receptionist of ${office}.",
    "tts_type": "piper", "stt_type": "whisper", "stt_language": "en-US",
    "tool_names": ["stop_service", "set_variables"],
    # the names on file: the recogniser scores a name answer against them (anyone else is heard as said)
    "parameter": {"speak_first": True, "stt_keywords": list(PATIENTS_ON_FILE)},
}
# Written without inner punctuation: the voice pauses at commas, and a pause longer than the VAD's
# stop time (0.2 s) would end the caller's turn mid-sentence.
CALLER_TURNS = [
    "Hi I would like to book an appointment.",
    "Next Tuesday please.",
    "In the morning at ten please.",
    "My name is Alex Morgan.",
    "Yes please.",
    "No thanks that is all goodbye.",
]
CALLER_PITCH_CENTS = 300  # the caller speaks with the offline voice, raised: a different voice (measured:
# raised, it survives u-law and a clipped onset better than lowered)
DEMO_CALLER_VOICE = "us-male-slow"  # the demo's caller: a corpus voice (espeak-ng), chosen by trying
# What that caller says: short answers today's recogniser takes from an espeak-ng voice ("Next Tuesday please"
# became "to the next two complete leads", "at ten" "at the end"; see docs/decisions.md). CALLER_TURNS stay the
# piper caller's (and `bench conversation`'s) script.
VOICE_TURNS = [
    "I would like to make an appointment.",
    "On Tuesday.",
    "At ten o'clock in the morning.",
    "My name is Alex Morgan.",
    "Yes.",
    "No thanks goodbye.",
]
AI_CALL_END_S = 15.0  # after the caller hung up, the AI call's record is final within this


@dataclass
class DemoReport:
    transcript: list[dict[str, Any]] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    ended_reason: str = ""
    variables: dict[str, Any] = field(default_factory=dict)
    heard: list[str] = field(default_factory=list)  # the agent's speech on the caller's line, transcribed

    def to_dict(self) -> dict[str, Any]:
        return {"transcript": self.transcript, "turns": self.turns, "ended_reason": self.ended_reason,
                "variables": self.variables, "heard_by_caller": self.heard}


def write_demo_files(folder: Path, engine_model: str = "", ai_fields: dict[str, Any] | None = None) -> Path:
    """The demo flow and AI; `ai_fields` replace the AI's own (its providers, key, VAD settings)."""
    flows = folder / "flows"
    (flows / "ais").mkdir(parents=True, exist_ok=True)
    (flows / "demo.yaml").write_text(yaml.safe_dump(DEMO_FLOW, sort_keys=False))
    ai = dict(DEMO_AI)
    if engine_model:
        ai["engine_model"] = engine_model
        ai["parameter"] = {"first_message": "Hello, this is Bright Smile Dental. How can I help?"}
    ai.update(ai_fields or {})
    (flows / "ais" / "receptionist.yaml").write_text(yaml.safe_dump(ai, sort_keys=False))
    return flows


def caller_voice(tts: TTSProvider, pcm: np.ndarray) -> np.ndarray:
    """The caller's prompt at 16 kHz, pitched up so it is not the agent's voice."""
    out = subprocess.run(
        ["sox", "-t", "raw", "-r", str(tts.sample_rate), "-e", "signed", "-b", "16", "-c", "1", "-",
         "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1", "-", "pitch", str(CALLER_PITCH_CENTS)],
        input=pcm.astype("<i2").tobytes(), capture_output=True, check=True)
    return trim_silence(np.frombuffer(out.stdout, dtype="<i2").astype(np.int16))


PAUSE = " | "  # in a caller's line: a pause mid-thought (PAUSE_S of silence), e.g. "My number is 555 | 1234."
PAUSE_S = 0.45


async def caller_prompt(tts: TTSProvider, text: str) -> np.ndarray:
    """The caller's line at 16 kHz in the caller's voice, with PAUSE_S of silence at each PAUSE mark."""
    parts = [caller_voice(tts, await tts.synthesize(part)) for part in text.split(PAUSE)]
    gap = np.zeros(round(PAUSE_S * 16000), dtype=np.int16)
    return np.concatenate([piece for part in parts for piece in (part, gap)][:-1])


def trim_silence(pcm: np.ndarray, rate: int = 16000, threshold: float = 200.0) -> np.ndarray:
    """Cut leading and trailing silence, so the end of the audio is the end of the speech (the
    caller's latency clock starts there)."""
    step = rate // 100
    frames = pcm[: pcm.size - pcm.size % step].astype(np.float64).reshape(-1, step)
    voiced = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > threshold)
    if voiced.size == 0:
        return pcm
    return pcm[voiced[0] * step: (voiced[-1] + 1) * step]


@dataclass
class DemoCall:
    """A running demo engine with the caller dialled in and the caller's prompts rendered."""

    engine: Engine
    service: AICallService
    caller: ScriptedCaller
    prompts: list[np.ndarray]
    t0: float


@asynccontextmanager
async def demo_engine(folder: Path, engine_model: str = "", *, ai_fields: dict[str, Any] | None = None,
                      settings: dict[str, str] | None = None, sip_accounts: SipAccounts | None = None,
                      sip_bind: SipBind | None = None) -> AsyncIterator[Engine]:
    """A private Asterisk and the engine with the demo flow and AI, its speech models warmed up; both
    stopped on exit. `settings` add to the engine's configuration (FLOWENGINE_... names, as in the
    environment); `sip_accounts` and `sip_bind` let a softphone call in (see flowengine.asterisk.sip_accounts)."""
    config = load_config(None, {
        "FLOWENGINE_ASTERISK__PRIVATE_DIR": str(folder / "asterisk"),
        "FLOWENGINE_FLOWS_DIR": str(write_demo_files(folder, engine_model, ai_fields)),
        "FLOWENGINE_ROUTES__DEFAULT_FLOW": "demo",
        "FLOWENGINE_SPEECH__CACHE_DIR": str(folder / "speech"),
        "FLOWENGINE_STORE__URL": f"sqlite+aiosqlite:///{folder / 'engine.db'}",
        **(settings or {}),
    })
    engine = Engine(config, sip_accounts=sip_accounts, sip_bind=sip_bind)
    await engine.start()
    try:
        assert engine.ari is not None and engine.providers is not None and engine.aicalls is not None
        warm = [engine.providers.tts("piper").warm_up()]  # the offline AI's voice
        if (ai_fields or {}).get("stt_type", DEMO_AI["stt_type"]) == "whisper":  # the cloud AI does not need it
            warm.append(engine.providers.stt("whisper").warm_up())
        await asyncio.gather(*warm)
        yield engine
    finally:
        await engine.aclose()


@asynccontextmanager
async def demo_call(folder: Path, turns: list[str], engine_model: str = "", *,
                    ai_fields: dict[str, Any] | None = None, settings: dict[str, str] | None = None,
                    voice: str = "piper") -> AsyncIterator[DemoCall]:
    """The demo engine (see `demo_engine`) with the caller's turns rendered in `voice` (see `caller_prompts`)
    and the caller dialled in."""
    async with demo_engine(folder, engine_model, ai_fields=ai_fields, settings=settings) as engine:
        assert engine.ari is not None and engine.providers is not None and engine.aicalls is not None
        prompts = await caller_prompts(engine.providers.tts("piper"), turns, voice)
        t0 = time.perf_counter()
        caller = ScriptedCaller(engine.ari)
        try:
            await caller.dial("Local/1000@flowengine-inbound")
            yield DemoCall(engine, engine.aicalls, caller, prompts, t0)
        finally:
            await caller.hangup()


async def caller_prompts(tts: TTSProvider, turns: list[str], voice: str) -> list[np.ndarray]:
    """The caller's turns at 16 kHz: `piper`, the agent's own voice pitched up, or a corpus voice by name
    (espeak-ng on a phone line: not the agent's voice at all)."""
    if voice == "piper":
        return [await caller_prompt(tts, text) for text in turns]
    speaker = corpus_voice(voice)
    lines = [Line(text, pause_ms=round(PAUSE_S * 1000)) for text in turns]
    return await asyncio.to_thread(lambda: [render(line, speaker) for line in lines])


async def run_demo(folder: Path, *, engine_model: str = "", on_line: Callable[[str], None] | None = None,
                   turns: list[str] | None = None, voice: str = DEMO_CALLER_VOICE) -> DemoReport:
    say = on_line or (lambda line: None)
    texts = turns or (CALLER_TURNS if voice == "piper" else VOICE_TURNS)
    async with demo_call(folder, texts, engine_model, voice=voice) as demo:
        assert demo.engine.ari is not None
        say(f"Asterisk {demo.engine.ari.asterisk_version} up; called the AI receptionist")
        caller = demo.caller
        if await caller.agent_speech_after(demo.t0, timeout=20) is not None:
            await caller.quiet_for(1.0)
        caller_turns: list[tuple[str, float, float | None]] = []
        for text, pcm in zip(texts, demo.prompts, strict=True):
            started = time.perf_counter()
            say(f"caller: {text}")
            ended = await caller.say(pcm, 16000)
            heard = await caller.agent_speech_after(ended, timeout=20)
            v2v = (heard.start - ended) * 1000 if heard else None
            caller_turns.append((text, started - demo.t0, v2v))
            if heard is None:
                say("  (no answer)")
                break
            await caller.quiet_for(1.0)
        live = await wait_ai_call(demo.service)
        report = report_of(live, caller_turns, demo.t0, caller.heard)
        assert demo.engine.providers is not None
        stt = demo.engine.providers.stt("whisper")
        for stretch in caller.heard:  # what the caller's line carried, through the recogniser
            pcm = caller.recording(stretch.start - 0.1, (stretch.end or time.perf_counter()) + 0.1)
            if pcm.size:
                report.heard.append((await stt.transcribe(pcm)).text)
        say_transcript(report, say)
    return report


async def wait_ai_call(service: AICallService) -> LiveAICall | None:
    """The demo's AI call once it has ended (each live call sets `done` when its record is final)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(AI_CALL_END_S):
            for live in list(service.live.values()):
                await live.done.wait()
    return service.recent[-1] if service.recent else None


def report_of(live: LiveAICall | None, caller_turns: list[tuple[str, float, float | None]], t0: float,
            heard: list[Heard] | None = None) -> DemoReport:
    """The conversation as the engine recorded it (what it recognised, what the caller heard of the
    agent), with times from the caller's side, and the per-turn latency."""
    report = DemoReport()
    if live is None:
        report.ended_reason = "no AI call"
        return report
    report.ended_reason = live.ended_reason
    report.variables = {k: v for k, v in live.variables.snapshot().items() if k.startswith("appointment_")}
    conversation = live.conversation
    said = iter(at for _, at, _ in caller_turns)
    spoken = iter(h.start - t0 for h in (heard or []))
    for message in conversation.messages if conversation else []:
        if message.role == "user":
            at: float | None = next(said, None)
            report.transcript.append({"role": "caller", "text": message.content, "t_ms": _ms(at)})
        elif message.role == "assistant":
            report.transcript.append({"role": "agent", "text": message.content, "t_ms": _ms(next(spoken, None))})
    metrics = conversation.turns if conversation else []
    for (text, _, v2v), turn in zip(caller_turns, metrics, strict=False):
        report.turns.append({
            "caller": text, "heard_as": turn.caller_text, "voice_to_voice_ms": _r(v2v),
            "endpointing_ms": _r(turn.endpointing_ms), "stt_ms": _r(turn.stt_ms),
            "llm_first_token_ms": _r(turn.llm_first_token_ms), "tts_first_audio_ms": _r(turn.tts_first_audio_ms),
            "engine_ms": _r(turn.engine_ms),
        })
    return report


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def say_transcript(report: DemoReport, say: Callable[[str], None]) -> None:
    say("")
    say("conversation:")
    for line in report.transcript:
        say(f"  {line['role']:>6}: {line['text']}")
    say("")
    say("per turn (ms): voice-to-voice at the caller | endpointing | STT | LLM 1st token | TTS 1st audio | engine")
    for turn in report.turns:
        say(f"  {turn['voice_to_voice_ms']!s:>7} | {turn['endpointing_ms']!s:>6} | {turn['stt_ms']!s:>6} | "
            f"{turn['llm_first_token_ms']!s:>6} | {turn['tts_first_audio_ms']!s:>6} | {turn['engine_ms']!s:>6}"
            f"   {turn['caller']}")
    say(f"ended: {report.ended_reason}; booked: {report.variables}")
