"""Backchannels said over the agent: the words that never cancel its reply, however many of them."""
from __future__ import annotations

import pytest

from flowengine.ai.voice.backchannel import is_backchannel, words_of


@pytest.mark.parametrize("text", [
    "Mm-hm.", "Mm-hmm.", "Mhm", "Uh-huh.", "uh huh", "Yeah.", "Okay.", "OK", "Right.", "Hmm.", "Yep, yep.",
    "Okay, yeah, right, uh huh, mm-hm, yeah yeah.",  # long, and still only listening
    "Oh, I see.", "All right.", "Got it, okay.", "Uh huh uh huh", "Okayyy", "That's right.",
])
def test_backchannels(text: str) -> None:
    assert is_backchannel(text)


@pytest.mark.parametrize("text", [
    "No wait.", "Stop.", "Sorry", "Yeah but I said Wednesday", "Okay, can you repeat that?", "Hold on",
    "What?", "no", "", "...", "Mm-hm, actually no",
])
def test_anything_else_is_a_barge_in(text: str) -> None:
    assert not is_backchannel(text)


def test_what_is_left_once_backchannels_are_taken_out() -> None:
    assert words_of("Yeah, uh huh, but Wednesday.") == ["but", "wednesday"]
