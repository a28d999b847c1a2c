"""Whether a caller's words already answer what the agent just asked (a day, a time, a name, digits, yes or no):
the turn judge ends a complete answer sooner. What was asked is expectation.py's reading of the question."""
from __future__ import annotations

import enum
import re

from flowengine.ai.voice.expectation import expectation
from flowengine.providers.stt.base import Expect


class Asked(enum.Enum):
    DAY = "day"
    TIME = "time"
    NAME = "name"
    DIGITS = "digits"
    YES_NO = "yes-no"
    OPEN = "open"


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_DAY = re.compile(r"\b(" + "|".join(WEEKDAYS + MONTHS) + r"|today|tomorrow|tonight|weekend|\d{1,2}(st|nd|rd|th)|"
                  r"first|second|third|fourth|fifth|tenth|twentieth|thirtieth)\b")
_NUMBER = (r"(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)")
_TIME = re.compile(rf"\b({_NUMBER}(:\d\d)?\s*(a\.?m\.?|p\.?m\.?|o'?clock|thirty|fifteen|forty five)|"
                   rf"{_NUMBER}\s+in the (morning|afternoon|evening)|\d{{1,2}}:\d\d|noon|midday|"
                   r"half past \w+|quarter (past|to) \w+)\b")
_BARE_HOUR = re.compile(rf"\b(at|around|about|by)\s+{_NUMBER}\b")
_PART_OF_DAY = re.compile(r"\b(morning|afternoon|evening|tonight|night|a\.?m|p\.?m|noon|midday)\b")
_YES_NO = re.compile(r"^(yes|yeah|yep|yup|no|nope|sure|correct|right|that's right|that is right|okay|ok|"
                     r"of course|absolutely|definitely|please|no thanks|no thank you)\b")


def bare_hour(text: str) -> bool:
    """An hour with nothing to say morning or afternoon ("at three"): the caller may well go on."""
    said = text.lower()
    return bool(_BARE_HOUR.search(said)) and not _TIME.search(said) and not _PART_OF_DAY.search(said)


def asked(reply: str) -> Asked:
    """What the agent's reply asks the caller for: the recogniser's reading of it (expectation.py), so the turn
    judge and the recogniser never disagree on what was asked."""
    return _KIND[expectation(reply).expect]


_KIND: dict[Expect, Asked] = {"day": Asked.DAY, "time": Asked.TIME, "name": Asked.NAME, "digits": Asked.DIGITS,
                              "yes_no": Asked.YES_NO, "open": Asked.OPEN}


def answers(text: str, kind: Asked) -> bool:
    """Whether the caller's words hold what was asked for (not whether they are finished)."""
    said = text.lower().strip()
    if kind is Asked.DAY:
        return bool(_DAY.search(said))
    if kind is Asked.TIME:
        return bool(_TIME.search(said) or _BARE_HOUR.search(said))
    if kind is Asked.YES_NO:  # or what is right instead: "Wednesday" to "Shall I book Tuesday?"
        return bool(_YES_NO.search(said) or _DAY.search(said) or _TIME.search(said))
    if kind is Asked.NAME:  # one to three words that are not everyday ones, said as a statement
        if said.endswith("?"):
            return False
        words = re.findall(r"[a-z']+", said)
        names = [w for w in words if w not in _NAME_FILLER]
        return 1 <= len(names) <= 3 and not any(w in _NOT_NAMES for w in names) and words[-1] not in _NAME_FILLER
    return False  # digits are judged by their count (see endpointing), an open question by its shape


_NAME_FILLER = frozenset({"my", "name", "is", "it's", "its", "it", "this", "i'm", "im", "i", "am", "call", "me",
                          "the", "um", "uh", "er", "yes", "sure", "speaking", "here"})
_NOT_NAMES = frozenset({"what", "was", "that", "sorry", "don't", "know", "can", "you", "repeat", "again", "why",
                        "who", "how", "not", "no", "wait", "hold", "on", "please", "thanks", "thank", "a", "and",
                        "but", "want", "need", "would", "like", "have", "do", "for", "to", "of", "in", "at"})
