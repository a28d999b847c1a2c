"""Times of day as callers say them: what each phrase can mean, and a business's window of times."""
from __future__ import annotations

import pytest

from flowengine.providers.clock import Window, minutes_of


@pytest.mark.parametrize(("said", "meant"), [
    ("At ten in the morning.", (600,)), ("At 11 p.m.", (1380,)), ("At eleven a.m.", (660,)), ("11am", (660,)),
    ("3 in the afternoon", (900,)), ("At 7 in the evening", (1140,)), ("10 30 pm", (1350,)), ("15:30", (930,)),
    ("noon", (720,)), ("12 noon", (720,)), ("midnight", (0,)),
    # an hour said bare or with o'clock can be either half of the day
    ("at 3", (180, 900)), ("3 oclock", (180, 900)), ("No, at seven.", (420, 1140)), ("10:30", (630, 1350)),
    ("Next Tuesday please.", ()), ("someone", ()), ("", ()),
])
def test_what_a_time_said_can_mean(said: str, meant: tuple[int, ...]) -> None:
    assert minutes_of(said) == meant


def test_a_window_allows_a_time_any_of_whose_readings_falls_inside() -> None:
    window = Window.parse("8 am", "6 pm")
    assert (window.start, window.end) == (480, 1080)
    assert window.allows("At ten.") and window.allows("at 3") and window.allows("6 pm") and window.allows("12 noon")
    assert not window.allows("At 11 p.m.") and not window.allows("at 7") and not window.allows("ten in the evening")
    assert window.allows("Next Tuesday.")  # no time named: nothing to refuse


def test_the_times_outside_a_refusal_names_are_found_among_the_hours_it_gives() -> None:
    window = Window.parse("8 am", "6 pm")
    assert window.refused_in("We book appointments from 8 am to 6 pm, not at 1 am. And what time suits you?") == (60,)
    assert window.refused_in("Not at seven.") == (420, 1140) and window.refused_in("And what time suits you?") == ()


@pytest.mark.parametrize(("start", "end", "problem"), [
    ("8", "6 pm", "'8' is not one time of day"), ("8 am", "tea time", "'tea time' is not one time of day"),
    ("6 pm", "8 am", "'6 pm' is after '8 am'"),
])
def test_a_window_needs_two_times_in_order(start: str, end: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Window.parse(start, end)
