"""Smart turn-taking: how much longer to wait, once the caller pauses, for the rest of their thought, judged by what
they said so far and what the agent asked."""
from __future__ import annotations

import re
from typing import NamedTuple

from flowengine.ai.voice.questions import Asked, answers, bare_hour

# Words a finished sentence rarely ends with: conjunctions, fillers, articles, prepositions, a verb still
# waiting for its object ("I would like...", "I need to make...").
INCOMPLETE_TAIL = frozenset({
    "and", "or", "but", "so", "because", "um", "uh", "er", "erm", "like", "the", "a", "an", "to", "of",
    "with", "for", "my", "is", "at", "on", "in", "then", "if", "that", "which", "your", "our", "from", "about",
    "around", "by", "until", "before", "after", "between", "into", "are", "was", "it's", "its", "i'm",
    "make", "need", "want", "get", "bring", "give", "would", "could", "can", "will", "be", "this", "next",
    "maybe", "also", "plus", "just", "some", "any",
})
FILLERS = frozenset({"um", "uh", "er", "erm", "hmm", "mm", "ah", "eh", "well", "so"})
_ANNOUNCED_NUMBER = re.compile(r"\b(phone|number|mobile|cell)\b")
FAREWELLS = frozenset({"goodbye", "bye", "cheers", "later"})
NEGATIVE = frozenset({"no", "nope", "nah", "not"})
_DIGIT_WORDS = {"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
PHONE_DIGITS = range(3, 12)  # digits read out so far that may be part of a phone number...
COMPLETE_NUMBERS = frozenset({7, 10, 11})  # ...unless they already make a whole one

COMPLETE_MS = 0  # a complete answer to what was asked: answer now
PLAIN_MS = 500  # a plain sentence: it may go on ("No thanks, that's it, ... and goodbye")
MISSING_MS = 800  # something was asked and this is not it yet ("at three" without morning/afternoon too)
UNFINISHED_MS = 1200  # reads unfinished: "and...", "um", half a number, "my name is..."
MAX_HOLDS = 3  # holds of one turn; after these the next pause ends it
MAX_HOLD_MS = 2500  # all the extra waiting of one turn together


class Verdict(NamedTuple):
    wait_ms: int  # the extra silence to wait for the caller to go on before answering (0: answer now)
    why: str


def digits_in(text: str) -> int:
    """Digits read out in `text`: spelled ("five") or written ("555" counts three)."""
    words = re.findall(r"[a-z]+|\d+", text.lower())
    return sum(len(w) if w.isdigit() else 1 for w in words if w.isdigit() or w in _DIGIT_WORDS)


def judge_text(text: str, asked: Asked = Asked.OPEN, plain_ms: int = PLAIN_MS) -> Verdict:
    """The extra wait after `text` (all of the turn so far), given what the agent asked."""
    said = text.strip().lower()
    words = re.findall(r"[a-z']+|\d+", said)
    if not words or all(w in FILLERS for w in words):
        return Verdict(UNFINISHED_MS, "only fillers")  # "um", "uh"...: the caller is still thinking
    if said.endswith((",", "-", "...", "…")):
        return Verdict(UNFINISHED_MS, "ends on a comma or dash")
    if words[-1] in INCOMPLETE_TAIL and not said.endswith("?"):  # "what was that?" is whole, "I need to make." not
        return Verdict(UNFINISHED_MS, f"ends on {words[-1]!r}")
    count = digits_in(said[-80:])
    ends_on_digit = words[-1].isdigit() or words[-1] in _DIGIT_WORDS
    if ends_on_digit and count in PHONE_DIGITS and count not in COMPLETE_NUMBERS and asked is not Asked.TIME:
        return Verdict(UNFINISHED_MS, f"half a number ({count} digits)")
    if asked is Asked.DIGITS:
        return Verdict(COMPLETE_MS, "a whole number") if count in COMPLETE_NUMBERS else \
            Verdict(MISSING_MS, "digits were asked")
    if asked is Asked.TIME and answers(said, asked) and bare_hour(said):
        return Verdict(MISSING_MS, "an hour without morning/afternoon")
    if said.endswith("?"):
        return Verdict(COMPLETE_MS, "a question")  # the caller asks and waits for the answer
    if count not in COMPLETE_NUMBERS and _ANNOUNCED_NUMBER.search(said) and asked is not Asked.TIME:
        return Verdict(MISSING_MS, "a number announced, not all of it yet")  # "my phone number is 555..."
    if words[-1] in FAREWELLS:
        return Verdict(COMPLETE_MS, "a goodbye")
    corrected = answers(said, Asked.DAY) or answers(said, Asked.TIME)  # "No, Wednesday": what is right instead
    if asked is Asked.YES_NO and answers(said, asked) and not corrected and (len(words) > 3 or words[0] in NEGATIVE):
        # "No" is often followed by what is right instead ("No, Wednesday", "No thanks, that's it, and goodbye")
        return Verdict(plain_ms, "no, or yes/no and more")
    if asked is not Asked.OPEN:
        if answers(said, asked):
            return Verdict(COMPLETE_MS, f"answers the {asked.value} asked")
        return Verdict(MISSING_MS, f"no {asked.value} yet")
    return Verdict(plain_ms, "a plain sentence")


class TurnJudge:
    """With smart turn off every pause the VAD reports ends the turn. With it on, each pause is given an extra
    wait by `judge_text` (bounded: `MAX_HOLDS` holds, `MAX_HOLD_MS` in all); the parts said so far are held
    and become one turn with what follows. `asked` is what the agent's last reply asked for."""

    def __init__(self, enabled: bool, max_holds: int = MAX_HOLDS, max_hold_ms: int = MAX_HOLD_MS,
                 plain_ms: int = PLAIN_MS) -> None:
        self.enabled = enabled
        self.plain_ms = plain_ms
        self.max_holds = max_holds
        self.max_hold_ms = max_hold_ms
        self.asked = Asked.OPEN
        self._held: list[str] = []
        self._holds = 0
        self._waited_ms = 0
        self.held_from_ms: int | None = None  # where the held turn's audio began (None: nothing held, or unknown)

    def judge(self, text: str) -> Verdict:
        """The extra wait after `text`, said after the held parts."""
        if not self.enabled:
            return Verdict(0, "smart turn off")
        if self._holds >= self.max_holds or self._waited_ms >= self.max_hold_ms:
            return Verdict(0, "waited enough")
        verdict = judge_text(" ".join([*self._held, text]), self.asked, self.plain_ms)
        return verdict._replace(wait_ms=min(verdict.wait_ms, self.max_hold_ms - self._waited_ms))

    def hold(self, text: str, wait_ms: int = 0, start_ms: int | None = None) -> None:
        """Keep `text` for the rest of the turn, whose pause is given `wait_ms` more. `start_ms`: where the audio
        of what is held began (kept from the turn's first hold, so it can be heard again whole)."""
        self._held.append(text)
        self._holds += 1
        self._waited_ms += wait_ms
        if self._holds == 1:
            self.held_from_ms = start_ms

    def heard_again(self) -> None:
        """The recogniser heard the held parts again, with what followed, in one transcript: that transcript
        replaces their words (the holds already counted stay counted)."""
        self._held = []

    def take(self, text: str = "") -> str:
        """The whole turn (held parts + `text`), and start afresh."""
        whole = " ".join(part for part in [*self._held, text.strip()] if part).strip()
        self._held = []
        self._holds = 0
        self._waited_ms = 0
        self.held_from_ms = None
        return whole

    @property
    def holding(self) -> bool:
        return self._holds > 0
