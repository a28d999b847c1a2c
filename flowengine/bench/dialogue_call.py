"""One corpus dialogue over a real call: the caller says each line once the agent has finished, and what the engine understood."""
from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flowengine.ai.aicall import AICallService, LiveAICall
from flowengine.asterisk.ari.client import AriClient
from flowengine.bench.caller import ScriptedCaller
from flowengine.bench.corpus import Dialogue
from flowengine.bench.read_back import Corrector
from flowengine.providers.llm.textnorm import normalise

DIAL = "Local/1000@flowengine-inbound"  # the demo flow's AI receptionist
ANSWER_TIMEOUT_S = 20.0  # the agent's reply (or greeting) must begin within this
QUIET_S = 1.0  # the agent's turn is over once it has been silent this long
FIND_TIMEOUT_S = 5.0  # the AI call is live by the time its greeting is heard; this is slack
END_TIMEOUT_S = 15.0  # after the last line, the AI call's record is final within this


@dataclass
class LineResult:
    """One corpus line: what the engine made of it (its turns' recognised text), and the reply's latency."""

    said: str
    heard: str
    replies: list[str]  # what the agent answered (to each of the line's turns)
    turns: int  # engine turns the line became (more than one: cut at a pause)
    slots: dict[str, str]  # expected
    found: dict[str, str]  # the expected values the engine's text carries
    voice_to_voice_ms: float | None  # end of the line -> first reply audio, at the caller
    talked_over: bool  # the agent began speaking before the caller had finished the line
    paused: bool = False  # the line has a planned pause mid-thought


@dataclass
class DialogueResult:
    """A whole call: its lines, the booking the receptionist holds at the end, how the AI call ended."""

    dialogue: str
    voice: str
    snr_db: float | None
    expected_booking: dict[str, str]
    lines: list[LineResult] = field(default_factory=list)
    booking: dict[str, str] = field(default_factory=dict)
    ended_reason: str = ""
    error: str = ""
    corrections: list[str] = field(default_factory=list)  # what the caller said besides its lines
    repeats: int = 0  # values the caller said again, asked for them again
    # each of `corrections` with what the engine heard of it and answered (not scored: for reading a lost call)
    interjections: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dialogue": self.dialogue, "voice": self.voice, "snr_db": self.snr_db, "ended_reason": self.ended_reason,
            "expected_booking": self.expected_booking, "booking": self.booking, "error": self.error,
            "corrections": self.corrections, "repeats": self.repeats, "interjections": self.interjections,
            "lines": [{"said": ln.said, "heard": ln.heard, "replies": ln.replies, "turns": ln.turns, "voice_to_voice_ms": ln.voice_to_voice_ms,
                       "talked_over": ln.talked_over, "paused": ln.paused} for ln in self.lines],
        }


def found_slots(expected: dict[str, str], heard: str) -> dict[str, str]:
    """The expected slot values that the recognised text carries: as whole normalised words ("at ten in the
    morning" carries "10 in the morning"); a phone number as its digits, however they were grouped."""
    words = f" {normalise(heard)} "
    digits = "".join(ch for ch in words if ch.isdigit())
    found = {}
    for name, value in expected.items():
        carried = value in digits if name == "phone" else f" {normalise(value)} " in words
        if value and carried:
            found[name] = value
    return found


async def run_dialogue(ari: AriClient, service: AICallService, dialogue: Dialogue, prompts: list[np.ndarray],
                       voice: str, snr_db: float | None,
                       corrector: Corrector[np.ndarray] | None = None) -> DialogueResult:
    """Dial the receptionist, say `prompts` (the dialogue's lines rendered) one per agent turn, hang up.
    `corrector`: before each line, the caller may say a value again that the agent asks for again, or say no to a
    wrong read-back and answer what is asked again (those interjections are not scored as lines)."""
    result = DialogueResult(dialogue.name, voice, snr_db, dict(dialogue.booking))
    caller = ScriptedCaller(ari)
    live: LiveAICall | None = None
    said: list[tuple[float, float, float | None, bool]] = []  # line start, end, voice-to-voice ms, talked over
    extra: list[tuple[float, float]] = []  # the interjections' spans, from start to the reply's end
    try:
        t0 = time.perf_counter()
        await caller.dial(DIAL)
        if await caller.agent_speech_after(t0, timeout=ANSWER_TIMEOUT_S) is None:
            result.error = "no greeting"
            return result
        live = await _find(service, caller)
        await caller.quiet_for(QUIET_S)
        for line, pcm in zip(dialogue.lines, prompts, strict=True):
            while corrector is not None and live is not None and (
                    interjection := corrector.next(_agent_said(live), line)) is not None:
                begun, _ = await caller.say_timed(interjection, 16000)
                replied = await caller.agent_speech_after(begun, timeout=ANSWER_TIMEOUT_S)
                await caller.quiet_for(QUIET_S)
                extra.append((begun, time.perf_counter()))
                if replied is None:
                    break
            started, ended = await caller.say_timed(pcm, 16000)
            over = any(started < h.start < ended for h in caller.heard)
            heard = await caller.agent_speech_after(ended, timeout=ANSWER_TIMEOUT_S)
            said.append((started, ended, None if heard is None else round((heard.start - ended) * 1000, 1), over))
            if heard is None:
                result.error = f"no answer to line {len(said)}"
                break
            await caller.quiet_for(QUIET_S)
    finally:
        await caller.hangup()
        if live is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(END_TIMEOUT_S):
                    await live.done.wait()
    if live is None:
        result.error = result.error or "AI call not found"
        return result
    result.corrections = list(corrector.said) if corrector is not None else []
    _fill(result, live, dialogue, said, extra)
    result.repeats = corrector.repeats if corrector is not None else 0
    return result


def _agent_said(live: LiveAICall) -> str:
    """The agent's last message (what the caller just heard)."""
    conversation = live.conversation
    if conversation is None:
        return ""
    return next((m.content for m in reversed(conversation.messages) if m.role == "assistant" and m.content), "")


async def _find(service: AICallService, caller: ScriptedCaller) -> LiveAICall | None:
    """The AI call on the other side of the caller's Local channel (its `;1` half; the engine has `;2`)."""
    assert caller.leg is not None
    prefix = caller.leg.snapshot.name.rsplit(";", 1)[0] + ";"
    deadline = time.perf_counter() + FIND_TIMEOUT_S
    while time.perf_counter() < deadline:
        for live in [*service.live.values(), *service.recent]:
            if live.call is not None and live.call.channel.snapshot.name.startswith(prefix):
                return live
        await asyncio.sleep(0.05)  # only when the greeting came before the AI call was listed: rare
    return None


def _fill(result: DialogueResult, live: LiveAICall, dialogue: Dialogue,
          said: list[tuple[float, float, float | None, bool]], extra: list[tuple[float, float]]) -> None:
    result.ended_reason = live.ended_reason
    result.booking = {key.removeprefix("appointment_"): str(value) for key, value in live.variables.snapshot().items()
                      if key.startswith("appointment_") and value}
    conversation = live.conversation
    if conversation is None:
        return
    # The k-th caller message is the k-th turn's (each turn commits its message, then replies); its reply
    # is the agent's message after it.
    replies: list[str] = []
    for message in conversation.messages:
        if message.role == "user":
            replies.append("")
        elif message.role == "assistant" and replies and not replies[-1]:
            replies[-1] = message.content
    spoken = [(t, reply) for t, reply in zip(conversation.turns, replies, strict=False) if t.caller_text]
    for text, (begun, done) in zip(result.corrections, extra, strict=False):  # said in the same order
        theirs = [(t.caller_text, reply) for t, reply in spoken if begun <= t.decided_at <= done]
        result.interjections.append({"said": text, "heard": " ".join(heard for heard, _ in theirs),
                                     "replies": [reply for _, reply in theirs]})
    turns = [(t, reply) for t, reply in spoken if not any(begun <= t.decided_at <= done for begun, done in extra)]
    starts = [start for start, _, _, _ in said] + [float("inf")]
    for index, (line, (_, _, v2v, over)) in enumerate(zip(dialogue.lines, said, strict=False)):
        mine = [(t.caller_text, reply) for t, reply in turns if starts[index] <= t.decided_at < starts[index + 1]]
        heard = " ".join(text for text, _ in mine)
        result.lines.append(LineResult(line.said, heard, [reply for _, reply in mine], len(mine), dict(line.slots),
                                       found_slots(line.slots, heard), v2v, over, line.pause_ms > 0))
