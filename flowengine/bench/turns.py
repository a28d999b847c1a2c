"""`bench turns`: turn-taking on the caller corpus: how often a line with a pause mid-thought is cut into more than
one turn (false cuts), against how long the agent waits after the caller's last word, for plain VAD, the old judge
and the judge that weighs what was said against what was asked."""
from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from flowengine.ai.voice.endpointing import PLAIN_MS, TurnJudge, digits_in
from flowengine.ai.voice.expectation import expectation
from flowengine.ai.voice.questions import Asked, asked
from flowengine.bench.conversation import pcts
from flowengine.bench.corpus import DIALOGUES, PAUSE, RATE, SNR_DB, VOICES, Line, Voice, render
from flowengine.bench.host import machine
from flowengine.media.g711 import ulaw_decode, ulaw_encode
from flowengine.media.resample import resample
from flowengine.media.vad import SpeechEnded, SpeechStarted, VadAnalyzer, VadConfig
from flowengine.media.vad_backends import make_vad_backend
from flowengine.providers.llm.base import ChatMessage, TextDelta
from flowengine.providers.llm.rules import RulesLLM
from flowengine.providers.stt.base import OPEN, STTContext, STTProvider

LINE_RATE = 8000  # the calls' rate: the VAD listens to 8 kHz u-law
FRAME = LINE_RATE // 50
PREROLL_MS = 300  # audio before the VAD's speech start handed to the recogniser, as the conversation does
OLD_WAIT_MS = 1200
_OLD_TAIL = frozenset({  # the judge before issue 19: a fixed wait when the words read unfinished, none otherwise
    "and", "or", "but", "so", "because", "um", "uh", "er", "erm", "like", "the", "a", "an", "to", "of",
    "with", "for", "my", "is", "at", "on", "in", "then", "if", "that", "which", "your", "our",
})
_OLD_FILLERS = frozenset({"um", "uh", "er", "erm", "hmm", "mm", "ah", "eh", "well", "so"})
_DIGITS = frozenset({"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"})


@dataclass(frozen=True)
class Segment:
    """One stretch of speech the VAD reported: when it was detected and when its end was decided (ms), and when
    its first voiced frame was heard (the VAD was `starting` from then until `started_t`)."""

    started_t: int
    ended_t: int
    text: str
    onset_t: int = 0


class OldJudge:
    """The judge before issue 19: a fixed wait when the words read unfinished, none otherwise."""

    onset = False

    def __init__(self) -> None:
        self._held: list[str] = []
        self.asked = Asked.OPEN

    def judge(self, text: str) -> int:
        said = " ".join([*self._held, text]).strip().lower()
        words = re.findall(r"[a-z']+|\d+", said)
        if len(self._held) >= 2:
            return 0
        if not words or all(w in _OLD_FILLERS for w in words):
            return OLD_WAIT_MS
        if said.endswith((",", "-", "...", "…")) or words[-1] in _OLD_TAIL:
            return OLD_WAIT_MS
        count = digits_in(said[-80:])
        if count in range(3, 12) and count not in (7, 10, 11) and (words[-1].isdigit() or words[-1] in _DIGITS):
            return OLD_WAIT_MS
        return 0

    def hold(self, text: str, wait_ms: int) -> None:
        self._held.append(text)

    def take(self) -> None:
        self._held = []


class NewJudge:
    """`TurnJudge` as the conversation uses it (off: plain VAD); `onset`: a held answer waits out voice the VAD
    has not yet called speech (`Conversation.speech_onset`)."""

    def __init__(self, enabled: bool, plain_ms: int = PLAIN_MS, onset: bool = False) -> None:
        self._judge = TurnJudge(enabled, plain_ms=plain_ms)
        self.onset = onset

    @property
    def asked(self) -> Asked:
        return self._judge.asked

    @asked.setter
    def asked(self, kind: Asked) -> None:
        self._judge.asked = kind

    def judge(self, text: str) -> int:
        return self._judge.judge(text).wait_ms

    def hold(self, text: str, wait_ms: int) -> None:
        self._judge.hold(text, wait_ms)

    def take(self) -> None:
        self._judge.take()


JUDGES: dict[str, Callable[[], OldJudge | NewJudge]] = {
    "plain": lambda: NewJudge(False), "old_judge": OldJudge, "smart_no_onset": lambda: NewJudge(True),
    "smart": lambda: NewJudge(True, onset=True)}
PLAIN_SWEEP_MS = (300, 400, 500, 600, 700, 900)  # the smart judge with another wait after plain sentences


async def replies_before() -> dict[str, str]:
    """For each corpus line, what the receptionist (the offline rule engine) said just before it."""
    before: dict[str, str] = {}
    for dialogue in DIALOGUES:
        llm = RulesLLM(model="appointments")
        messages = [ChatMessage("system", "You are the receptionist of Bright Smile.")]
        reply = ""
        for line in dialogue.lines:
            before.setdefault(line.text, reply)
            messages.append(ChatMessage("user", line.said))
            reply = "".join([e.text async for e in llm.stream(messages) if isinstance(e, TextDelta)])
            messages.append(ChatMessage("assistant", reply))
    return before


async def questions_before() -> dict[str, Asked]:
    """For each corpus line, what the receptionist asked just before it."""
    return {text: asked(reply) for text, reply in (await replies_before()).items()}


async def segments(line: Line, voice: Voice, snr_db: float | None, stt: STTProvider,
                   context: STTContext = OPEN) -> tuple[list[Segment], int]:
    """The line as the engine hears it on a call: VAD (webrtc, 0.2 s stop, as smart turn sets it) over 8 kHz
    u-law, each stretch transcribed by the real recogniser, told what the agent's question expects as in a
    call (`ai/voice/expectation.py`). Also where the caller's speech ends (ms)."""
    wide = render(line, voice, snr_db)
    narrow = ulaw_decode(ulaw_encode(resample(wide, RATE, LINE_RATE)))
    speech_end_ms = len(narrow) * 1000 // LINE_RATE
    pcm = np.concatenate([narrow, np.zeros(LINE_RATE * 3, dtype=np.int16)])
    config = VadConfig(stop_secs=0.2)
    vad = VadAnalyzer(make_vad_backend("webrtc", LINE_RATE, config), config)
    found: list[Segment] = []
    started_t = onset_t = 0
    for i in range(len(pcm) // FRAME):
        for event in vad.process(pcm[i * FRAME:(i + 1) * FRAME]):
            if isinstance(event, SpeechStarted):
                started_t = event.t_ms
                onset_t = event.start_ms + 20  # the end of its first voiced frame: the VAD `starting` from then
            elif isinstance(event, SpeechEnded):
                heard = pcm[max(0, event.start_ms - PREROLL_MS) * LINE_RATE // 1000: event.end_ms * LINE_RATE // 1000]
                text = (await stt.transcribe_in_context(resample(heard, LINE_RATE, RATE), context)).text.strip()
                found.append(Segment(started_t, event.t_ms, text, onset_t))
    return found, speech_end_ms


def turns_of(found: list[Segment], judge: OldJudge | NewJudge, kind: Asked) -> tuple[int, int]:
    """(turns the line became, extra wait after its last stretch). A stretch is held while the judge's wait
    outlasts the pause before the next stretch is detected (as the conversation cancels a held answer then), or
    before its voice is first heard when the judge waits out the VAD's start (`onset`)."""
    judge.asked = kind
    turns, last_wait = 0, 0
    for index, segment in enumerate(found):
        extra = judge.judge(segment.text)
        following = found[index + 1] if index + 1 < len(found) else None
        heard_t = 0 if following is None else following.onset_t if judge.onset else following.started_t
        if following is not None and extra > heard_t - segment.ended_t:
            judge.hold(segment.text, extra)
            continue
        turns += 1
        last_wait = extra
        judge.take()
    return turns, last_wait


async def run_turn_bench(stt: STTProvider, voices: int = len(VOICES), snrs: tuple[float | None, ...] = SNR_DB,
                         log: Callable[[str], None] | None = None) -> dict[str, Any]:
    replies = await replies_before()
    kinds = {text: asked(reply) for text, reply in replies.items()}
    paused = [line for d in DIALOGUES for line in d.lines if PAUSE in line.text]
    paused = list({line.text: line for line in paused}.values())
    whole = list({line.text: line for d in DIALOGUES for line in d.lines if PAUSE not in line.text}.values())
    runs: list[tuple[Line, list[Segment], int]] = []
    for voice in VOICES[:voices]:
        for snr in snrs:
            for line in paused:
                found, _ = await segments(line, voice, snr, stt, expectation(replies[line.text]))
                runs.append((line, found, 1))
                if log is not None:
                    log(f"{voice.name} {snr} {line.text!r}: {[s.text for s in found]}")
        for line in whole:  # complete lines: what each way of judging costs when nothing more comes
            found, _ = await segments(line, voice, snrs[0], stt, expectation(replies[line.text]))
            runs.append((line, found, 0))
    report: dict[str, Any] = {"paused_lines": sum(1 for *_, p in runs if p), "whole_lines": sum(1 for *_, p in runs if not p),
                              "voices": [v.name for v in VOICES[:voices]],
                              "snr_db": [s if s is not None else "clean" for s in snrs]}
    for name, make in JUDGES.items():
        report[name] = _score(runs, kinds, make, report["paused_lines"])
    report["smart_plain_ms_sweep"] = [
        {"plain_ms": ms, **_score(runs, kinds, functools.partial(NewJudge, True, ms, True), report["paused_lines"])}
        for ms in PLAIN_SWEEP_MS]
    return {**report, "load_average": [round(x, 2) for x in os.getloadavg()], "machine": machine()}


def _score(runs: list[tuple[Line, list[Segment], int]], kinds: dict[str, Asked],
           make: Callable[[], OldJudge | NewJudge], paused_lines: int) -> dict[str, Any]:
    cuts, split_whole = 0, 0
    waits: list[float] = []
    whole_waits: list[float] = []
    for line, found, was_paused in runs:
        if not found:
            continue
        turns, extra = turns_of(found, make(), kinds.get(line.text, Asked.OPEN))
        if was_paused:
            cuts += turns > 1
        else:
            split_whole += turns > 1
            whole_waits.append(extra)
        waits.append(extra)
    return {
        "false_cuts": cuts,  # paused lines split into more than one turn
        "false_cut_rate": round(cuts / max(1, paused_lines), 3),
        "whole_lines_split": split_whole,
        "wait_ms": pcts(waits),  # extra silence after the caller's last word, beyond the VAD's 0.2 s
        "wait_ms_whole_lines": pcts(whole_waits),
        # whole lines answered with no extra wait (a complete answer to what was asked, a question, a goodbye)
        "whole_lines_at_once": round(sum(1 for w in whole_waits if w == 0) / max(1, len(whole_waits)), 3),
    }
