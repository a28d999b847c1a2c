"""Scoring what was understood against the corpus: word error rate, slot accuracy, whole-booking success."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flowengine.providers.llm.textnorm import normalise, spoken_digits


@dataclass
class Score:
    """Running totals over many utterances or dialogues."""

    word_errors: int = 0
    words: int = 0
    slots_right: int = 0
    slots: int = 0
    bookings_right: int = 0
    bookings: int = 0

    def add_words(self, reference: str, heard: str) -> int:
        errors, words = word_errors(reference, heard)
        self.word_errors += errors
        self.words += words
        return errors

    def add_slots(self, expected: Mapping[str, str], got: Mapping[str, str]) -> bool:
        right = sum(1 for name, value in expected.items() if same_value(value, got.get(name, "")))
        self.slots_right += right
        self.slots += len(expected)
        return right == len(expected)

    def add_booking(self, expected: Mapping[str, str], got: Mapping[str, str]) -> bool:
        ok = all(same_value(value, got.get(name, "")) for name, value in expected.items())
        self.bookings += 1
        self.bookings_right += ok
        return ok

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "wer": _ratio(self.word_errors, self.words), "words": self.words,
            "slot_accuracy": _ratio(self.slots_right, self.slots), "slots": self.slots,
            "booking_success": _ratio(self.bookings_right, self.bookings), "bookings": self.bookings,
        }


def word_errors(reference: str, heard: str) -> tuple[int, int]:
    """Edit distance in words between the normalised texts (digits one word each), and the reference's words."""
    ref, hyp = spoken_digits(reference), spoken_digits(heard)
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, other in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (word != other))
    return row[len(hyp)], len(ref)


def same_value(expected: str, got: object) -> bool:
    """A slot's value as stored, compared on normalised words ("10 in the morning" == "Ten in the morning")."""
    return normalise(str(expected)) == normalise(str(got or ""))


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None
