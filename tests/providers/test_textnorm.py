"""Normalised words for matching: spelled and numeric numbers meet in one form."""
from __future__ import annotations

import pytest

from flowengine.providers.llm.textnorm import normalise, sentences, spoken_digits


@pytest.mark.parametrize(("said", "expected"), [
    ("My number is 555-1234.", "my number is 5551234"),
    ("my number is five five five one two three four", "my number is 5551234"),
    ("My number is 5 5 5 1 2 3 4", "my number is 5551234"),
    ("five oh two", "502"),
    ("Oh, I see", "oh i see"),
    ("Tuesday at ten thirty a.m.", "tuesday at 10 30 am"),
    ("At 10:30 AM, please!", "at 10:30 am please"),
    ("twenty-five people", "25 people"),
    ("one hundred and five", "105"),
    ("What's up? No Thanks Goodbye", "whats up no thanks goodbye"),
    ("", ""),
    # times as Whisper writes them: "10.30", "11am", and clock phrases
    ("At 10.30.", "at 10:30"),
    ("at 10.30am please", "at 10:30 am please"),
    ("11am", "11 am"),
    ("ten o'clock", "10 oclock"),
    ("half past ten", "10:30"),
    ("quarter past three", "3:15"),
    ("quarter to four", "3:45"),
    ("555.123.4567", "5551234567"),  # a dotted phone number is still one number
])
def test_normalise(said: str, expected: str) -> None:
    assert normalise(said) == expected


def test_spoken_digits_counts_each_digit_of_long_numbers() -> None:
    assert spoken_digits("call 555-1234 at 10") == ["call", "5", "5", "5", "1", "2", "3", "4", "at", "10"]


def test_sentences_keep_their_marks() -> None:
    assert sentences("Sure. Which day would you like? ") == ["Sure.", "Which day would you like?"]
    assert sentences("No mark at the end") == ["No mark at the end"] and sentences("  ") == []
