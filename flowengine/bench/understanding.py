"""`bench understanding`: the corpus's dialogues as real calls through Asterisk, scored per voice and noise level."""
from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from flowengine.bench.conversation import pcts
from flowengine.bench.corpus import DIALOGUES, SNR_DB, VOICES, Dialogue, Voice, render
from flowengine.bench.demo import demo_engine
from flowengine.bench.dialogue_call import DialogueResult, found_slots, run_dialogue
from flowengine.bench.host import machine
from flowengine.bench.read_back import MAX_TAKES, Corrector, caller_kind, correction
from flowengine.bench.scoring import Score

DEFAULT_DIALOGUES = ("booking", "booking-paused")
DEFAULT_CONCURRENCY = 3
CALL_TIMEOUT_S = 240.0  # one dialogue's call, from dialling to the final record


@dataclass(frozen=True)
class Case:
    dialogue: Dialogue
    voice: Voice
    snr_db: float | None


@dataclass
class Tally:
    """Scores of a group of calls (all of them, one voice, one noise level)."""

    score: Score = field(default_factory=Score)
    calls: int = 0
    lines: int = 0
    split_lines: int = 0  # lines the engine took as several turns
    paused_lines: int = 0  # lines with a planned pause mid-thought
    split_paused_lines: int = 0  # of those, split
    talked_over: int = 0  # lines the agent began to answer before the caller had finished
    unanswered: int = 0  # calls where a line got no answer at all
    v2v: list[float] = field(default_factory=list)

    def add(self, result: DialogueResult) -> None:
        self.calls += 1
        self.unanswered += bool(result.error)
        for line in result.lines:
            self.lines += 1
            self.split_lines += line.turns > 1
            self.paused_lines += line.paused
            self.split_paused_lines += line.paused and line.turns > 1
            self.talked_over += line.talked_over
            self.score.add_words(line.said, line.heard)
            if line.slots:
                self.score.add_slots(line.slots, line.found)
            if line.voice_to_voice_ms is not None:
                self.v2v.append(line.voice_to_voice_ms)
        if result.expected_booking:
            self.score.add_booking(result.expected_booking, result.booking)

    def to_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, **self.score.to_dict(), "lines": self.lines, "split_lines": self.split_lines,
                "paused_lines": self.paused_lines, "split_paused_lines": self.split_paused_lines,
                "talked_over": self.talked_over, "calls_with_unanswered_line": self.unanswered,
                "voice_to_voice_ms": pcts(self.v2v)}


def snr_name(snr_db: float | None) -> str:
    return "clean" if snr_db is None else f"{snr_db:g}"


def parse_snr(text: str) -> float | None:
    return None if text.strip() == "clean" else float(text)


def cases(dialogues: Sequence[str] = DEFAULT_DIALOGUES, voices: Sequence[str] = (),
          snrs: Sequence[float | None] = SNR_DB) -> list[Case]:
    """Every dialogue x voice x SNR asked for (voices: all when empty); unknown names are a ValueError."""
    by_name = {d.name: d for d in DIALOGUES}
    voice_names = {v.name: v for v in VOICES}
    unknown = [n for n in dialogues if n not in by_name] + [n for n in voices if n not in voice_names]
    if unknown:
        raise ValueError(f"unknown dialogue or voice: {', '.join(unknown)} (dialogues: {', '.join(by_name)}; "
                         f"voices: {', '.join(voice_names)})")
    chosen = [voice_names[n] for n in voices] if voices else list(VOICES)
    return [Case(by_name[d], v, s) for d in dialogues for v in chosen for s in snrs]


async def run_understanding_bench(grid: list[Case], concurrency: int = DEFAULT_CONCURRENCY, budget_s: float = 1800.0,
                                  log: Callable[[str], None] | None = None, folder: Path | None = None,
                                  correcting: bool = False, blind: bool = False) -> dict[str, Any]:
    """One real call per case through a private Asterisk and the offline demo receptionist, at most
    `concurrency` at once; no call starts after `budget_s`. Returns the report. The caller says a value again when
    asked for it again; `correcting`: it also says no to a read-back that gets its booking wrong
    (bench/read_back.py); `blind`: it says its lines and nothing else."""
    say = log or (lambda line: None)
    load_before = os.getloadavg()
    prompts = await asyncio.to_thread(_render_all, grid)
    interjections = [{} for _ in grid] if blind else await asyncio.to_thread(
        _render_interjections, grid, prompts, correcting=correcting)
    with tempfile.TemporaryDirectory(prefix="flowengine-understanding-") as tmp:
        async with demo_engine(folder or Path(tmp)) as engine:
            assert engine.ari is not None and engine.aicalls is not None
            ari, service = engine.ari, engine.aicalls
            gate = asyncio.Semaphore(concurrency)
            t0 = time.perf_counter()

            async def one(case: Case, pcm: list[np.ndarray],
                          rendered: dict[tuple[str, int], np.ndarray]) -> DialogueResult | None:
                corrector = None if blind else Corrector(
                    case.dialogue, lambda line: rendered[line.said, line.take],
                    lambda agent: found_slots(case.dialogue.booking, agent), says_no=correcting)
                async with gate:
                    if time.perf_counter() - t0 > budget_s:
                        return None
                    try:
                        async with asyncio.timeout(CALL_TIMEOUT_S):
                            result = await run_dialogue(ari, service, case.dialogue, pcm, case.voice.name,
                                                        case.snr_db, corrector)
                    except TimeoutError:
                        result = DialogueResult(case.dialogue.name, case.voice.name, case.snr_db,
                                                dict(case.dialogue.booking), error="call timed out")
                say(_summary(result))
                return result

            done = await asyncio.gather(*(one(case, pcm, rendered) for case, pcm, rendered
                                          in zip(grid, prompts, interjections, strict=True)))
            seconds = time.perf_counter() - t0
    results = [r for r in done if r is not None]
    out = report(results, skipped=len(done) - len(results), concurrency=concurrency, seconds=seconds)
    out["correcting"] = correcting
    out["caller"] = caller_kind(correcting=correcting, blind=blind)
    out["repeats"] = sum(r.repeats for r in results)
    out["corrections"] = sum(len([c for c in r.corrections if c.startswith("No, ")]) for r in results)
    out["machine"]["load_average"] = {"before": [round(x, 2) for x in load_before],
                                      "after": [round(x, 2) for x in os.getloadavg()]}
    return out


def report(results: list[DialogueResult], *, skipped: int = 0, concurrency: int = 1,
           seconds: float = 0.0) -> dict[str, Any]:
    overall = Tally()
    by_voice: dict[str, Tally] = {}
    by_snr: dict[str, Tally] = {}
    by_dialogue: dict[str, Tally] = {}
    for result in results:
        overall.add(result)
        by_voice.setdefault(result.voice, Tally()).add(result)
        by_snr.setdefault(snr_name(result.snr_db), Tally()).add(result)
        by_dialogue.setdefault(result.dialogue, Tally()).add(result)
    return {
        "calls": len(results), "skipped": skipped, "concurrency": concurrency, "seconds": round(seconds, 1),
        "overall": overall.to_dict(),
        "by_voice": {name: tally.to_dict() for name, tally in by_voice.items()},
        "by_snr": {name: tally.to_dict() for name, tally in by_snr.items()},
        "by_dialogue": {name: tally.to_dict() for name, tally in by_dialogue.items()},
        "definitions": {
            "wer": "word errors of the engine's own transcript of each line (its turns' recognised text) against "
                   "the line, on normalised words",
            "slot_accuracy": "expected day, time, name, phone found in the engine's transcript of the line",
            "booking_success": "the receptionist's appointment_* variables at the end equal the dialogue's booking",
            "voice_to_voice_ms": "end of the caller's line -> first reply audio, measured at the caller",
        },
        "results": [r.to_dict() for r in results],
        "machine": machine(),
    }


def _render_all(grid: list[Case]) -> list[list[np.ndarray]]:
    return [[render(line, case.voice, case.snr_db) for line in case.dialogue.lines] for case in grid]


def _render_interjections(grid: list[Case], prompts: list[list[np.ndarray]], *,
                          correcting: bool) -> list[dict[tuple[str, int], np.ndarray]]:
    """Per case, what the caller may say besides its scripted lines, by words and take: each of its lines said again
    (bench/read_back.py; a new take is other noise; take 0 is its prompt) and, for a correcting caller, a no with
    each value; rendered ahead (the engine runs in this process, and rendering on its loop would stall its media
    clock)."""
    out = []
    for case, pcm in zip(grid, prompts, strict=True):
        rendered = {(line.said, 0): audio for line, audio in zip(case.dialogue.lines, pcm, strict=True)}
        lines = list(case.dialogue.lines)
        if correcting:
            nos = [correction(case.dialogue, {k: v for k, v in case.dialogue.booking.items() if k != slot})
                   for slot in case.dialogue.booking]
            lines += [line for line in nos if line is not None]
        out.append(rendered | {(line.said, take): render(replace(line, take=take), case.voice, case.snr_db)
                               for line in lines for take in range(MAX_TAKES) if (line.said, take) not in rendered})
    return out


def _summary(result: DialogueResult) -> str:
    booked = "" if not result.expected_booking else (
        " booked" if Score().add_booking(result.expected_booking, result.booking) else f" booking {result.booking}")
    heard = " | ".join(line.heard for line in result.lines)
    return (f"{result.dialogue} {result.voice} {snr_name(result.snr_db)}:{booked} {result.error} heard: {heard}")
