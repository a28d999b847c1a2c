"""A caller who listens to the agent's read-back: what it says when the read-back gets the booking wrong (a no with
the right value, as it said it before), and what it answers when asked again. Offline and real-call benches."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from flowengine.ai.voice.expectation import expectation
from flowengine.bench.corpus import Dialogue, Line

MAX_CORRECTIONS = 2  # read-backs a correcting caller says no to, per call
_LOWERED = ("At", "Next", "On", "My")  # first words that stay lower case after "No, "

Audio = TypeVar("Audio")


def correction(dialogue: Dialogue, slots: dict[str, str]) -> Line | None:
    """What the caller says to a read-back holding `slots`: a no with the first wrong value as it said it before
    ("No, at ten in the morning."); None when the read-back is right."""
    for slot, want in dialogue.booking.items():
        if slots.get(slot) != want:
            first, _, rest = answer_line(dialogue, slot).said.partition(" ")
            lead = first.lower() if first in _LOWERED else first
            return Line(f"No, {lead} {rest}".strip(), {slot: want})
    return None


def answer_line(dialogue: Dialogue, slot: str) -> Line:
    """The dialogue's line that gives `slot` (the first one)."""
    return next(line for line in dialogue.lines if slot in line.slots)


@dataclass
class Corrector(Generic[Audio]):
    """Decides, from the agent's last words, whether the caller interjects before its next scripted line: a no to a
    wrong read-back (at most MAX_CORRECTIONS), then the answers to what is asked again. `say(line)`: the line as
    the caller's audio; `read_back(agent)`: the booking values the agent's words carry."""

    dialogue: Dialogue
    say: Callable[[Line], Audio]
    read_back: Callable[[str], dict[str, str]]
    corrections: int = 0
    correcting: bool = False  # a no was said and what is asked again is being answered
    said: list[str] = field(default_factory=list)

    def next(self, agent: str) -> Audio | None:
        kind = expectation(agent).expect
        if kind == "yes_no" and self.corrections < MAX_CORRECTIONS:
            wrong = correction(self.dialogue, self.read_back(agent))
            self.correcting = wrong is not None
            if wrong is not None:
                self.corrections += 1
                return self._said(wrong)
        elif self.correcting and kind in self.dialogue.booking:
            return self._said(answer_line(self.dialogue, kind))
        self.correcting = False
        return None

    def _said(self, line: Line) -> Audio:
        self.said.append(line.said)
        return self.say(line)
