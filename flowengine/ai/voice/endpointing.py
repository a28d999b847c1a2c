"""Smart turn-taking: is what the caller said so far a finished turn, or did they stop mid-thought?"""
from __future__ import annotations

import enum
import re

# Words a finished sentence rarely ends with: conjunctions, fillers, articles, prepositions.
INCOMPLETE_TAIL = frozenset({
    "and", "or", "but", "so", "because", "um", "uh", "er", "erm", "like", "the", "a", "an", "to", "of",
    "with", "for", "my", "is", "at", "on", "in", "then", "if", "that", "which", "your", "our",
})
FILLERS = frozenset({"um", "uh", "er", "erm", "hmm", "mm", "ah", "eh", "well", "so"})
_DIGIT_WORDS = {"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
PHONE_DIGITS = range(3, 12)  # digits read out so far that may be part of a phone number...
COMPLETE_NUMBERS = frozenset({7, 10, 11})  # ...unless they already make a whole one


class TurnEnd(enum.Enum):
    NOW = "now"
    WAIT = "wait"


def digits_in(text: str) -> int:
    """Digits read out in `text`: spelled ("five") or written ("555" counts three)."""
    words = re.findall(r"[a-z]+|\d+", text.lower())
    return sum(len(w) if w.isdigit() else 1 for w in words if w.isdigit() or w in _DIGIT_WORDS)


class TurnJudge:
    """With smart turn off every pause the VAD reports ends the turn. With it on, a turn that
    reads unfinished (ends on "and", "um", half a phone number) waits for more, up to `max_holds`
    times; the conversation responds anyway after `extra_wait_ms` of silence."""

    def __init__(self, enabled: bool, max_holds: int = 2, extra_wait_ms: int = 1200) -> None:
        self.enabled = enabled
        self.max_holds = max_holds
        self.extra_wait_ms = extra_wait_ms
        self._held: list[str] = []

    def judge(self, text: str) -> TurnEnd:
        if not self.enabled or len(self._held) >= self.max_holds:
            return TurnEnd.NOW
        combined = " ".join([*self._held, text]).strip().lower()
        words = re.findall(r"[a-z']+|\d+", combined)
        if not words or all(w in FILLERS for w in words):
            return TurnEnd.WAIT  # only "um", "uh"...: the caller is still thinking
        if combined.rstrip().endswith((",", "-", "...", "…")) or words[-1] in INCOMPLETE_TAIL:
            return TurnEnd.WAIT
        tail = combined[-80:]
        count = digits_in(tail)
        if count in PHONE_DIGITS and count not in COMPLETE_NUMBERS and (words[-1].isdigit() or words[-1] in _DIGIT_WORDS):
            return TurnEnd.WAIT
        return TurnEnd.NOW

    def hold(self, text: str) -> None:
        self._held.append(text)

    def take(self, text: str = "") -> str:
        """The whole turn (held parts + `text`), and start afresh."""
        whole = " ".join([*self._held, text]).strip()
        self._held = []
        return whole

    @property
    def holding(self) -> bool:
        return bool(self._held)
