"""`bench recognition`: the corpus through the real recogniser and the real rules dialog, offline (no Asterisk):
each line rendered per voice and noise, sent over an 8 kHz u-law line, transcribed in the context of the
question the dialogue is at, and the dialogue replayed to score slots and whole bookings."""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flowengine.ai.voice.expectation import expectation
from flowengine.bench.corpus import (
    DIALOGUES,
    PATIENTS_ON_FILE,
    SNR_DB,
    VOICES,
    Dialogue,
    Line,
    Voice,
    over_the_line,
    render,
)
from flowengine.bench.read_back import Corrector, caller_kind
from flowengine.bench.scoring import Score
from flowengine.providers.llm.dialog import Dialog, State
from flowengine.providers.llm.ruleset import load_rules
from flowengine.providers.stt.base import OPEN, STTProvider

RULES = "appointments"
NAMES_ON_FILE = PATIENTS_ON_FILE  # for name questions with --names (a live call gets them as the AI's stt_keywords)


@dataclass
class Cell:
    """One voice at one noise level: the scores, and CPU per utterance."""

    score: Score = field(default_factory=Score)
    cpu_ms: list[float] = field(default_factory=list)
    misheard: list[dict[str, str]] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # per failed booking: the first line whose slots went wrong
    corrections: int = 0  # read-backs the correcting caller said no to
    repeats: int = 0  # values the caller said again, asked for them again

    def to_dict(self) -> dict[str, Any]:
        cpu = sorted(self.cpu_ms)
        return {**self.score.to_dict(), "utterances": len(cpu), "corrections": self.corrections, "repeats": self.repeats,
                "cpu_ms_per_utt": round(sum(cpu) / len(cpu), 1) if cpu else None,
                "cpu_ms_p95": round(cpu[int(0.95 * (len(cpu) - 1))], 1) if cpu else None}


def snr_label(snr: float | None) -> str:
    return "clean" if snr is None else f"{snr:g}"


async def replay(stt: STTProvider, dialog: Dialog, dialogue: Dialogue, voice: Voice, snr: float | None,
                 cell: Cell, *, context: bool, names: tuple[str, ...], correcting: bool = False,
                 blind: bool = False) -> None:
    """One dialogue as one caller: each line heard in the context of the agent's last words, then answered; a value
    asked for again is said again (bench/read_back.py). `correcting`: the caller says no to a read-back that gets the
    booking wrong (with the right value, then answers what is asked again with its own lines) before going on with
    its script; `blind`: the caller says its lines and nothing else, whatever it is asked."""
    state, agent = State(), dialog.greeting()
    booked: dict[str, str] = {}
    first_wrong = ""

    async def say(line: Line) -> tuple[str, str]:
        nonlocal state, agent, booked
        pcm = over_the_line(render(line, voice, snr))
        ctx = expectation(agent, hints=names, requests=dialog.requests, window=dialog.time_window) if context else OPEN
        cpu = time.process_time()
        heard = (await stt.transcribe_in_context(pcm, ctx)).text
        cell.cpu_ms.append((time.process_time() - cpu) * 1000)
        if heard.strip():
            state, turn = dialog.step(state, heard)
            agent = turn.reply
            if turn.tool and turn.tool[0] == "set_variables":
                variables = json.loads(turn.tool[1]).get("variables", {})
                booked = {k.removeprefix("appointment_"): str(v) for k, v in variables.items()}
        return heard, ctx.expect

    corrector: Corrector[Line] | None = None if blind else Corrector(dialogue, lambda line: line,
                                                                     lambda _: state.slots, says_no=correcting)
    for line in dialogue.lines:
        while corrector is not None and (extra := corrector.next(agent, line)) is not None:
            await say(extra)
        heard, expected = await say(line)
        if cell.score.add_words(line.said, heard):
            cell.misheard.append({"said": line.said, "heard": heard, "expect": expected})
        if not cell.score.add_slots(line.slots, state.slots) and not first_wrong:
            first_wrong = f"{dialogue.name}: {line.said!r} heard {heard!r}"
    cell.corrections += corrector.corrections if corrector is not None else 0
    cell.repeats += corrector.repeats if corrector is not None else 0
    if dialogue.booking and not cell.score.add_booking(dialogue.booking, booked):
        cell.lost.append(first_wrong or f"{dialogue.name}: the booking was not made")


async def run_recognition_bench(
    stt: STTProvider, *, voices: Sequence[Voice] = VOICES, snrs: Sequence[float | None] = SNR_DB,
    dialogues: Sequence[Dialogue] = DIALOGUES, context: bool = True, names: tuple[str, ...] = (),
    correcting: bool = False, blind: bool = False, log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every dialogue for every voice and noise level; per voice and SNR, per SNR, and overall."""
    dialog = Dialog(load_rules(RULES, {}))
    await stt.warm_up()
    cells: dict[tuple[str, str], Cell] = {}
    started = time.perf_counter()
    for snr in snrs:
        for voice in voices:
            cell = cells[(voice.name, snr_label(snr))] = Cell()
            for dialogue in dialogues:
                await replay(stt, dialog, dialogue, voice, snr, cell, context=context, names=names,
                             correcting=correcting, blind=blind)
            if log:
                log(f"{voice.name:<16} {snr_label(snr):>5}  {json.dumps(cell.score.to_dict())}")
    by_snr: dict[str, Cell] = {}
    for (_voice, snr_name), cell in cells.items():
        total = by_snr.setdefault(snr_name, Cell())
        _merge(total, cell)
    overall = Cell()
    for cell in by_snr.values():
        _merge(overall, cell)
    return {
        "model": getattr(stt, "model_name", stt.name), "context": context, "names_on_file": len(names),
        "correcting": correcting, "caller": caller_kind(correcting=correcting, blind=blind),
        "seconds": round(time.perf_counter() - started, 1),
        "by_snr": {name: cell.to_dict() for name, cell in by_snr.items()},
        "by_voice": {f"{v}/{s}": cell.to_dict() for (v, s), cell in cells.items()},
        "overall": overall.to_dict(),
        "misheard": [m for cell in cells.values() for m in cell.misheard][:60],
        "lost_bookings": {f"{v}/{s}": cell.lost for (v, s), cell in cells.items() if cell.lost},
    }


def _merge(total: Cell, cell: Cell) -> None:
    for name in vars(total.score):
        setattr(total.score, name, getattr(total.score, name) + getattr(cell.score, name))
    total.cpu_ms.extend(cell.cpu_ms)
    total.misheard.extend(cell.misheard)
    total.lost.extend(cell.lost)
    total.corrections += cell.corrections
    total.repeats += cell.repeats
