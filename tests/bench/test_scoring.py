"""Scoring against the corpus: word errors on normalised words, slots compared as the receptionist stores them."""
from __future__ import annotations

from flowengine.bench.scoring import Score, same_value, word_errors


def test_word_errors_count_substitutions_insertions_and_deletions_on_normalised_words() -> None:
    assert word_errors("Next Tuesday please.", "next tuesday, please") == (0, 3)
    assert word_errors("Next Tuesday please.", "Next, goo make lean.") == (3, 3)
    assert word_errors("At ten.", "at 10") == (0, 2)
    assert word_errors("five five five one", "5551") == (0, 4)  # digits count one word each
    assert word_errors("yes", "") == (1, 1) and word_errors("", "uh") == (1, 0)


def test_slots_and_bookings_are_scored_on_normalised_values() -> None:
    assert same_value("10 in the morning", "Ten in the morning")
    assert not same_value("Tuesday", "Thursday")
    score = Score()
    assert score.add_slots({"day": "Tuesday", "time": "10 am"}, {"day": "Tuesday", "time": "11 am"}) is False
    assert score.add_booking({"day": "Tuesday"}, {"day": "tuesday", "name": "Alex"}) is True
    assert score.add_booking({"day": "Tuesday"}, {}) is False
    score.add_words("next tuesday", "next thursday")
    assert score.to_dict() == {"wer": 0.5, "words": 2, "slot_accuracy": 0.5, "slots": 2,
                               "booking_success": 0.5, "bookings": 2}
