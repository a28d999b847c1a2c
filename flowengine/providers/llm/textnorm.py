"""Text normalisation for matching what a caller said: lower case, no punctuation, numbers as digits."""
from __future__ import annotations

import re

DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
UNITS = {w: i for i, w in enumerate(DIGIT_WORDS + TEENS)}
UNITS["oh"] = 0  # only inside a run of digits ("five oh two")
TENS = {w: 10 * i for i, w in enumerate(
    ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"], start=2)}

_AMPM = re.compile(r"\b([ap])\.?\s?m\b\.?", re.IGNORECASE)
# "10.30" is a time as Whisper writes it (not a price: no currency sign before it); "11am" is "11 am"
_DOT_TIME = re.compile(r"(?<![$£€\d.])(1[0-2]|0?[1-9])\.([0-5]\d)(?![\d.]\d)")
_GLUED_AMPM = re.compile(r"(?<=\d)(am|pm)\b")
_DIGIT_JOIN = re.compile(r"(?<=\d)[-.](?=\d)")  # 555-1234, 5.5.5 (not 10:30, not 2.5 which stays two tokens)
_NON_WORD = re.compile(r"[^a-z0-9:' ]+")
_TIME = re.compile(r"^\d{1,2}:\d{2}$")
_SENTENCE = re.compile(r"[^.?!]+[.?!]?")


def sentences(text: str) -> list[str]:
    """The sentences of `text`, each with its closing mark, stripped ("Sure. Which day?" -> ["Sure.", "Which day?"])."""
    return [part.strip() for part in _SENTENCE.findall(text) if part.strip()]


def tokens(text: str) -> list[str]:
    """"My number is 555-1234." and "my number is five five five one two three four" both give
    ['my', 'number', 'is', '5551234']; "ten thirty a.m." gives ['10', '30', 'am']."""
    text = _AMPM.sub(lambda m: f" {m.group(1).lower()}m ", text)
    text = _GLUED_AMPM.sub(r" \1", _DOT_TIME.sub(r"\1:\2", text.lower()))
    text = _DIGIT_JOIN.sub("", text)
    text = _NON_WORD.sub(" ", text.replace("-", " "))
    words = [w.strip("':") if not _TIME.match(w) else w for w in text.split()]
    words = [w.replace("'", "") for w in words if w.strip("':")]
    return _join_digit_runs(_clock(_numbers(words)))


def normalise(text: str) -> str:
    return " ".join(tokens(text))


def _numbers(words: list[str]) -> list[str]:
    """Spelled numbers to digits: "twenty five" -> 25, "one hundred and five" -> 105, "five five" -> 5 5."""
    out: list[str] = []
    i = 0
    while i < len(words):
        value, used = _parse_number(words, i)
        if used:
            out.append(str(value))
            i += used
        else:
            out.append(words[i])
            i += 1
    return out


def _parse_number(words: list[str], i: int) -> tuple[int, int]:
    """The number starting at words[i] (value, words used); (0, 0) when there is none."""
    start = i
    total = 0
    if i < len(words) and words[i] == "oh" and not _next_is_digit_word(words, i):
        return 0, 0
    if i < len(words) and words[i].isdigit() and words[i + 1:i + 2] == ["hundred"]:
        total, i = int(words[i]) * 100, i + 2
    elif i < len(words) and words[i] in UNITS and words[i + 1:i + 2] == ["hundred"]:
        total, i = UNITS[words[i]] * 100, i + 2
    if total and words[i:i + 1] == ["and"] and i + 1 < len(words) and (words[i + 1] in UNITS or words[i + 1] in TENS):
        i += 1
    if i < len(words) and words[i] in TENS:
        total += TENS[words[i]]
        i += 1
        if i < len(words) and words[i] in UNITS and 0 < UNITS[words[i]] < 10 and words[i] != "oh":
            total += UNITS[words[i]]
            i += 1
    elif i < len(words) and words[i] in UNITS and (total == 0 or words[i] not in ("zero", "oh")):
        total += UNITS[words[i]]
        i += 1
    return total, i - start


def _clock(words: list[str]) -> list[str]:
    """"half past 10" -> "10:30", "quarter past 3" -> "3:15", "quarter to 4" -> "3:45"."""
    out: list[str] = []
    i = 0
    while i < len(words):
        hour = words[i + 2] if i + 2 < len(words) else ""
        if words[i] in ("half", "quarter") and words[i + 1:i + 2] in (["past"], ["to"]) and hour.isdigit() \
                and 1 <= int(hour) <= 12 and not (words[i] == "half" and words[i + 1] == "to"):
            h, minutes = int(hour), (30 if words[i] == "half" else 15)
            if words[i + 1] == "to":
                h, minutes = (h - 2) % 12 + 1, 45
            out.append(f"{h}:{minutes:02d}")
            i += 3
        else:
            out.append(words[i])
            i += 1
    return out


def _next_is_digit_word(words: list[str], i: int) -> bool:
    before = words[i - 1] if i > 0 else ""
    after = words[i + 1] if i + 1 < len(words) else ""
    return before in DIGIT_WORDS or before.isdigit() or after in DIGIT_WORDS or after.isdigit()


def _join_digit_runs(words: list[str]) -> list[str]:
    """"5 5 5 1 2 3 4" -> "5551234": single digits in a row are one spoken number (a phone number,
    a code); so are 3+ numbers in a row ("five five five twelve thirty four"). "10 30" stays two."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) >= 3 or (len(run) == 2 and all(len(w) == 1 for w in run)):
            out.append("".join(run))
        else:
            out.extend(run)
        run.clear()

    for word in words:
        if word.isdigit():
            run.append(word)
        else:
            flush()
            out.append(word)
    flush()
    return out


def spoken_digits(text: str) -> list[str]:
    """For word error rates: every digit its own word, so "5551234" counts as seven words."""
    out: list[str] = []
    for word in tokens(text):
        out.extend(list(word) if word.isdigit() and len(word) > 2 else [word])
    return out
