"""Smart turn-taking: how long each pause waits, by what was said and what was asked."""
from __future__ import annotations

import pytest

from flowengine.ai.voice.endpointing import (
    COMPLETE_MS,
    MISSING_MS,
    PLAIN_MS,
    UNFINISHED_MS,
    TurnJudge,
    digits_in,
    judge_text,
)
from flowengine.ai.voice.questions import Asked


def test_digits_spelled_or_written() -> None:
    assert digits_in("my number is 555 one two") == 5
    assert digits_in("five five five, 1234") == 7


@pytest.mark.parametrize(("text", "kind", "wait"), [
    # unfinished: waits longest
    ("I want to come on Tuesday and", Asked.OPEN, UNFINISHED_MS),
    ("My name is", Asked.NAME, UNFINISHED_MS),
    ("Um.", Asked.OPEN, UNFINISHED_MS),
    ("", Asked.OPEN, UNFINISHED_MS),
    ("I would like to come in at", Asked.TIME, UNFINISHED_MS),
    ("I need to make", Asked.OPEN, UNFINISHED_MS),
    ("My number is 555", Asked.OPEN, UNFINISHED_MS),  # half a phone number
    ("No thanks, that's it,", Asked.YES_NO, UNFINISHED_MS),  # the recogniser heard the comma
    # a complete answer to what was asked: no wait
    ("Next Tuesday please.", Asked.DAY, COMPLETE_MS),
    ("At ten in the morning.", Asked.TIME, COMPLETE_MS),
    ("At 3 pm.", Asked.TIME, COMPLETE_MS),
    ("My name is Alex Morgan.", Asked.NAME, COMPLETE_MS),
    ("Jordan Lee.", Asked.NAME, COMPLETE_MS),
    ("Yes please.", Asked.YES_NO, COMPLETE_MS),
    ("555 123 4567", Asked.DIGITS, COMPLETE_MS),
    ("That's all, goodbye.", Asked.OPEN, COMPLETE_MS),
    # something was asked and this is not (all of) it
    ("Hmm, let me think.", Asked.DAY, MISSING_MS),
    ("At three.", Asked.TIME, MISSING_MS),  # morning or afternoon?
    ("It is 555 12.", Asked.DIGITS, UNFINISHED_MS),
    ("Sorry, what was that?", Asked.NAME, COMPLETE_MS),  # a question waits for its answer
    ("What are your opening hours?", Asked.OPEN, COMPLETE_MS),
    ("It is spelled with a", Asked.NAME, UNFINISHED_MS),
    # plain sentences, and a "no" that may be followed by what is right instead
    ("I would like to book an appointment.", Asked.OPEN, PLAIN_MS),
    ("No thanks.", Asked.YES_NO, PLAIN_MS),
    ("Yes, and I also want to ask about parking.", Asked.YES_NO, PLAIN_MS),
    ("My phone, my very time, time", Asked.OPEN, MISSING_MS),  # a number announced, no digits heard yet
    ("No, Wednesday.", Asked.YES_NO, COMPLETE_MS),  # what is right instead of yes or no
])
def test_waits(text: str, kind: Asked, wait: int) -> None:
    assert judge_text(text, kind).wait_ms == wait
    judge = TurnJudge(True)
    judge.asked = kind
    assert judge.judge(text).wait_ms == wait
    assert TurnJudge(False).judge(text).wait_ms == 0  # plain VAD: every pause ends the turn


def test_held_parts_are_judged_together_and_become_one_turn() -> None:
    judge = TurnJudge(True)
    judge.asked = Asked.NAME
    first = judge.judge("my name is")
    assert first.wait_ms == UNFINISHED_MS
    judge.hold("my name is", first.wait_ms)
    assert judge.holding and judge.judge("Sam Taylor.").wait_ms == COMPLETE_MS
    assert judge.take("Sam Taylor.") == "my name is Sam Taylor."
    assert not judge.holding and judge.take() == ""


def test_holds_are_bounded_in_number_and_in_time() -> None:
    judge = TurnJudge(True, max_holds=2, max_hold_ms=2000)
    judge.hold("um", UNFINISHED_MS)
    assert judge.judge("and").wait_ms == 2000 - UNFINISHED_MS  # only what is left of the time allowed
    judge.hold("and", 800)
    assert judge.judge("so").wait_ms == 0  # held twice already: this pause ends the turn
    judge.take()
    assert judge.judge("so").wait_ms == UNFINISHED_MS  # a new turn starts afresh


def test_a_held_turn_heard_again_whole_keeps_its_holds_and_its_start() -> None:
    judge = TurnJudge(True)
    judge.hold("at three", 800, start_ms=1000)
    judge.hold("", 0, start_ms=5000)  # a later hold does not move where the turn's audio began
    assert judge.holding and judge.held_from_ms == 1000
    judge.heard_again()  # the recogniser heard "at three ... in the afternoon" in one piece
    assert judge.holding and judge.held_from_ms == 1000
    assert judge.take("at three in the afternoon") == "at three in the afternoon"
    assert not judge.holding and judge.held_from_ms is None
    judge.hold("my number is", 800)  # a held turn whose audio is not known (an answer withdrawn) joins words
    assert judge.held_from_ms is None and judge.take("five five five") == "my number is five five five"
