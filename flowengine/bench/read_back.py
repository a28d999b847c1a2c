"""A caller who listens to the agent: asked again for a value it already gave ("Sorry, I did not catch that. Which
day...?", a time outside the hours booked), it says it again, as a person would, and told its last words were not
caught, it says them again; a correcting caller also says no to a read-back that gets the booking wrong (with the
right value, as it said it before) and answers what is asked again. Words said again are a new take (other noise).
Offline and real-call benches."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from flowengine.ai.voice.expectation import expectation
from flowengine.bench.corpus import Dialogue, Line

MAX_CORRECTIONS = 2  # read-backs a correcting caller says no to, per call
MAX_REPEATS = 2  # times a caller says the same words again (asked again for a value, or not caught), per call
MAX_ANSWERS = 4  # answers a correcting caller gives to what is asked again after its no's, per call (the same audio
# misheard the same way each time would be asked for forever)
MAX_TAKES = 1 + MAX_REPEATS + MAX_ANSWERS + MAX_CORRECTIONS  # times one line's words can be said in a call
# the agent says it did not understand (the rules dialog's "Sorry, I did not catch that.", a model's "Could you
# say that again?")
_NOT_CAUGHT = re.compile(r"\b(?:did not|didn't|could not|couldn't) (?:catch|understand|hear)\b|"
                         r"\b(?:say|repeat) (?:it|that)(?: again)?\b|\bpardon\b", re.IGNORECASE)
_LOWERED = ("At", "Next", "On", "My")  # first words that stay lower case after "No, "

Audio = TypeVar("Audio")


def caller_kind(*, correcting: bool, blind: bool) -> str:
    """How the benches' caller listens, for their reports."""
    return "blind" if blind else "correcting" if correcting else "repeating"


def correction(dialogue: Dialogue, slots: dict[str, str]) -> Line | None:
    """What the caller says to a read-back holding `slots`: a no with the first wrong value as it said it before
    ("No, at ten in the morning."); None when the read-back is right."""
    for slot, want in dialogue.booking.items():
        if slots.get(slot) != want:
            said = booked_line(dialogue, slot).said
            if said.startswith("No, "):  # the script's own correction ("No, Wednesday.")
                return Line(said, {slot: want})
            first, _, rest = said.partition(" ")
            lead = first.lower() if first in _LOWERED else first
            return Line(f"No, {lead} {rest}".strip(), {slot: want})
    return None


def booked_line(dialogue: Dialogue, slot: str) -> Line:
    """The dialogue's line that gives the value booked for `slot` (the first one)."""
    want = dialogue.booking.get(slot)
    return next((line for line in dialogue.lines if line.slots.get(slot) == want), answer_line(dialogue, slot))


def answer_line(dialogue: Dialogue, slot: str, before: Line | None = None) -> Line:
    """The dialogue's last line before `before` (or its first line) that gives `slot`: what the caller said for it."""
    if before is None:
        return next(line for line in dialogue.lines if slot in line.slots)
    at = next(i for i, line in enumerate(dialogue.lines) if line is before)
    return next(line for line in reversed(dialogue.lines[:at]) if slot in line.slots)


@dataclass
class Corrector(Generic[Audio]):
    """Decides, from the agent's last words, whether the caller interjects before its next scripted line `upcoming`:
    a value asked for again, or its last words when the agent did not catch them and asks no value (the same words
    at most MAX_REPEATS times again); with `says_no`, a no to a wrong read-back (at most MAX_CORRECTIONS), then the
    answers to what is asked again. `say(line)`: the line as the caller's audio (its `take` counts the times the
    caller said the words before); `read_back(agent)`: the booking values the agent's words carry. Each call to
    `next` that returns None means `upcoming` is said next."""

    dialogue: Dialogue
    say: Callable[[Line], Audio]
    read_back: Callable[[str], dict[str, str]]
    says_no: bool = True
    corrections: int = 0
    repeats: int = 0
    again: dict[str, int] = field(default_factory=dict)  # times each line's words were said again (repeats)
    answers: int = 0  # answers to what is asked again after a no
    correcting: bool = False  # a no was said and what is asked again is being answered
    said: list[str] = field(default_factory=list)
    last: Line | None = None  # the caller's last words, scripted or not
    takes: dict[str, int] = field(default_factory=dict)  # times each line's words were said

    def next(self, agent: str, upcoming: Line) -> Audio | None:
        kind = expectation(agent).expect
        if self.says_no and kind == "yes_no" and self.corrections < MAX_CORRECTIONS:
            wrong = correction(self.dialogue, self.read_back(agent))
            if wrong is not None and all(upcoming.slots.get(k) == v for k, v in wrong.slots.items()):
                wrong = None  # the script's next line is that no ("No, Wednesday.")
            self.correcting = wrong is not None
            if wrong is not None:
                self.corrections += 1
                return self._said(wrong)
        elif self.correcting and kind in self.dialogue.booking and self.answers < MAX_ANSWERS:
            self.answers += 1
            return self._said(booked_line(self.dialogue, kind))
        elif (value := self._asked_again(kind, upcoming)) is not None and self._may_repeat(value):
            return self._repeat(value)
        if self.last is not None and kind not in self.dialogue.booking and _NOT_CAUGHT.search(agent) and (
                self._may_repeat(self.last)):
            return self._repeat(self.last)  # "Sorry, I did not catch that. You can book an appointment or..."
        self.correcting = False
        self._count(upcoming)
        return None

    def _asked_again(self, kind: str, upcoming: Line) -> Line | None:
        """The line that gave the value the agent asks for, when a line before `upcoming` gave it and `upcoming`
        does not give it."""
        if kind not in self.dialogue.booking or kind in upcoming.slots:
            return None
        at = next(i for i, line in enumerate(self.dialogue.lines) if line is upcoming)
        if not any(kind in line.slots for line in self.dialogue.lines[:at]):
            return None
        return answer_line(self.dialogue, kind, before=upcoming)

    def _may_repeat(self, line: Line) -> bool:
        return self.again.get(line.said, 0) < MAX_REPEATS

    def _repeat(self, line: Line) -> Audio:
        self.repeats += 1
        self.again[line.said] = self.again.get(line.said, 0) + 1
        return self._said(line)

    def _count(self, line: Line) -> Line:
        """`line` as said now: its take is the times its words were said before."""
        take = self.takes.get(line.said, 0)
        self.takes[line.said] = take + 1
        self.last = line
        return replace(line, take=take)

    def _said(self, line: Line) -> Audio:
        self.said.append(line.said)
        return self.say(self._count(line))
