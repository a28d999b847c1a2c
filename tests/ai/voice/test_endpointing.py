"""Smart turn-taking: which turns read unfinished."""
from __future__ import annotations

import pytest

from flowengine.ai.voice.endpointing import TurnEnd, TurnJudge, digits_in


def test_digits_spelled_or_written() -> None:
    assert digits_in("my number is 555 one two") == 5
    assert digits_in("five five five, 1234") == 7


@pytest.mark.parametrize(("text", "verdict"), [
    ("I would like to book an appointment.", TurnEnd.NOW),
    ("My number is 555", TurnEnd.WAIT),  # half a phone number
    ("My number is 555 1234", TurnEnd.NOW),  # a whole one (7 digits)
    ("I want to come on Tuesday and", TurnEnd.WAIT),
    ("My name is", TurnEnd.WAIT),
    ("Um.", TurnEnd.WAIT),
    ("", TurnEnd.WAIT),
    ("Yes.", TurnEnd.NOW),
])
def test_verdicts(text: str, verdict: TurnEnd) -> None:
    assert TurnJudge(True).judge(text) is verdict
    assert TurnJudge(False).judge(text) is TurnEnd.NOW  # plain VAD: every pause ends the turn


def test_holds_combine_and_are_bounded() -> None:
    judge = TurnJudge(True, max_holds=2)
    assert judge.judge("my number is five five five") is TurnEnd.WAIT
    judge.hold("my number is five five five")
    assert judge.judge("one two three four") is TurnEnd.NOW
    assert judge.take("one two three four") == "my number is five five five one two three four"
    judge.hold("um")
    judge.hold("and")
    assert judge.judge("so") is TurnEnd.NOW  # waited twice already
