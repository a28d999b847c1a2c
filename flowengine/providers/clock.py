"""Times of day as callers say them ("ten in the morning", "11 am", "3 oclock", "noon"): the minutes past
midnight a phrase can mean, and a window of times a business books (its opening hours). Shared by the rules
dialog, which refuses a time outside its window, and the recogniser, which prefers a reading inside it."""
from __future__ import annotations

import re
from dataclasses import dataclass

HOUR_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
_HOUR = {word: i for i, word in enumerate(HOUR_WORDS, 1)}
_TIME = re.compile(
    r"\b(?:(?P<noon>noon|midday)|(?P<midnight>midnight)|"
    r"(?P<hour>\d{1,2}|" + "|".join(HOUR_WORDS) + r")(?:(?::| )(?P<minute>[0-5]\d)\b)?"
    r"(?P<part> ?(?:a\.? ?m\b\.?|p\.? ?m\b\.?)| in the (?:morning|afternoon|evening)| at night| tonight| noon)?)")
_MORNING = re.compile(r"a\.? ?m|morning")


def minutes_of(text: str) -> tuple[int, ...]:
    """The times of day the first time in `text` can mean, in minutes past midnight: one for "10 am", "10 in
    the morning", "15:30" or "noon"; both halves of the day for an hour said bare or with "o'clock" ("at ten":
    600 and 1320); () when `text` names no time of day."""
    found = _TIME.search(text.lower())
    return () if found is None else _meanings(found)


def _meanings(found: re.Match[str]) -> tuple[int, ...]:
    if found.group("noon"):
        return (720,)
    if found.group("midnight"):
        return (0,)
    word = found.group("hour")
    hour = int(word) if word.isdigit() else _HOUR[word]
    minute = int(found.group("minute") or 0)
    if hour > 24 or (hour == 0 and not word.isdigit()):
        return ()
    if hour > 12 or hour == 0:  # a 24-hour clock says which half itself
        return ((hour % 24) * 60 + minute,)
    part = (found.group("part") or "").strip()
    if part:
        return ((hour % 12 + (0 if _MORNING.search(part) else 12)) * 60 + minute,)
    return ((hour % 12) * 60 + minute, (hour % 12 + 12) * 60 + minute)


@dataclass(frozen=True)
class Window:
    """The times of day from `start` to `end` (minutes past midnight, both included)."""

    start: int
    end: int

    @classmethod
    def parse(cls, start: str, end: str) -> Window:
        """From two times said unambiguously ("8 am", "6 pm", "18:00"); ValueError naming the one that is not."""
        bounds = []
        for said in (start, end):
            meant = minutes_of(said)
            if len(meant) != 1:
                raise ValueError(f"{said!r} is not one time of day (say '8 am', '6 pm' or '18:00')")
            bounds.append(meant[0])
        if bounds[0] > bounds[1]:
            raise ValueError(f"{start!r} is after {end!r}")
        return cls(bounds[0], bounds[1])

    def allows(self, text: str) -> bool:
        """`text` names no time of day, or one that can mean a time inside the window ("at ten": 10 am)."""
        meant = minutes_of(text)
        return not meant or self._inside(meant)

    def refused_in(self, text: str) -> tuple[int, ...]:
        """The times of day outside the window that `text` names ("We book from 8 am to 6 pm, not at 7 pm." -> 19:00),
        in minutes past midnight."""
        return tuple(m for found in _TIME.finditer(text.lower()) if not self._inside(meant := _meanings(found))
                     for m in meant)

    def _inside(self, meant: tuple[int, ...]) -> bool:
        return any(self.start <= m <= self.end for m in meant)
