"""What the agent asked for, read from its reply, and whether the caller's words answer it."""
from __future__ import annotations

import pytest

from flowengine.ai.voice.expectation import expectation
from flowengine.ai.voice.questions import Asked, answers, asked, bare_hour


@pytest.mark.parametrize(("reply", "kind"), [
    ("Sure. Which day would you like to come in?", Asked.DAY),
    ("And what time on Tuesday suits you?", Asked.TIME),  # the time, though it names a day
    ("Would you prefer the morning or the afternoon?", Asked.TIME),  # "or": one of them, not yes or no
    ("May I have your name, please?", Asked.NAME),
    ("What is the best number to reach you?", Asked.DIGITS),
    ("So that is Tuesday at 10 for Alex Morgan. Shall I book it?", Asked.YES_NO),
    ("You are booked. Is there anything else?", Asked.OPEN),  # yes/no in form, any request in fact
    ("We are open Monday to Friday from 8 am to 6 pm.", Asked.OPEN),  # no question at all
])
def test_what_a_reply_asks_for_is_the_recognisers_reading_of_it(reply: str, kind: Asked) -> None:
    assert asked(reply) is kind
    assert asked(reply).value.replace("-", "_") == expectation(reply).expect


@pytest.mark.parametrize(("text", "kind", "answered"), [
    ("next tuesday please", Asked.DAY, True),
    ("tomorrow", Asked.DAY, True),
    ("on the 5th", Asked.DAY, True),
    ("let me check my diary", Asked.DAY, False),
    ("at ten in the morning", Asked.TIME, True),
    ("11:30", Asked.TIME, True),
    ("around noon", Asked.TIME, True),
    ("at three", Asked.TIME, True),
    ("whenever", Asked.TIME, False),
    ("yes please", Asked.YES_NO, True),
    ("no thanks", Asked.YES_NO, True),
    ("maybe later", Asked.YES_NO, False),
    ("Alex Morgan", Asked.NAME, True),
    ("my name is", Asked.NAME, False),
    ("it's Priya", Asked.NAME, True),
    ("anything", Asked.OPEN, False),
])
def test_answers(text: str, kind: Asked, answered: bool) -> None:
    assert answers(text, kind) is answered


def test_an_hour_alone_does_not_say_morning_or_afternoon() -> None:
    assert bare_hour("at three") and bare_hour("around 4")
    assert not bare_hour("at three pm") and not bare_hour("at 10 in the morning") and not bare_hour("on Monday")
    assert not bare_hour("in the morning at ten please")
