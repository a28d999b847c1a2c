"""`bench turns`: how a line's stretches become turns under each judge, and the questions before corpus lines."""
from __future__ import annotations

from flowengine.ai.voice.questions import Asked
from flowengine.bench.turns import NewJudge, OldJudge, Segment, questions_before, turns_of

# "my name is" ... 700 ms ... "Sam Taylor": the next stretch is detected 700 ms after the first one was ended
NAME = [Segment(400, 1300, "My name is"), Segment(2000, 2900, "Sam Taylor.")]
# "No thanks." ... 460 ms ... "that's it" ... 880 ms ... "and goodbye"
NO_THANKS = [Segment(300, 900, "No thanks."), Segment(1360, 1900, "That's it."), Segment(2780, 3400, "and goodbye")]


def test_plain_vad_ends_a_turn_at_every_pause() -> None:
    assert turns_of(NAME, NewJudge(False), Asked.NAME) == (2, 0)


def test_a_held_stretch_joins_the_next_when_it_comes_within_the_wait() -> None:
    assert turns_of(NAME, NewJudge(True), Asked.NAME) == (1, 0)  # then a complete name: no wait after it
    assert turns_of(NAME, OldJudge(), Asked.NAME) == (1, 0)


def test_a_pause_longer_than_the_wait_is_a_false_cut_and_the_last_wait_is_reported() -> None:
    turns, wait = turns_of(NO_THANKS, NewJudge(True), Asked.YES_NO)
    assert turns == 2 and wait == 0  # held after "No thanks." (500 > 460), cut after "That's it." (500 < 880)
    assert turns_of(NO_THANKS, NewJudge(True, 900), Asked.YES_NO) == (1, 0)  # a longer plain wait holds both
    assert turns_of(NO_THANKS, OldJudge(), Asked.YES_NO) == (3, 0)


def test_a_judge_that_waits_out_the_vads_start_holds_a_pause_up_to_the_first_voiced_frame() -> None:
    # "That's it." ... "and goodbye": detected 880 ms after the end, its first voice heard 200 ms before that
    onset = [Segment(300, 900, "No thanks.", 100), Segment(1360, 1900, "That's it.", 1160),
             Segment(2780, 3400, "and goodbye", 2580)]
    assert turns_of(onset, NewJudge(True), Asked.YES_NO)[0] == 2  # 500 < 880: cut
    assert turns_of(onset, NewJudge(True, 700, onset=True), Asked.YES_NO)[0] == 1  # 700 > 2580 - 1900
    assert turns_of(onset, NewJudge(True, 700), Asked.YES_NO)[0] == 2  # the same wait without it: cut


async def test_the_question_before_each_corpus_line_comes_from_the_rule_engine() -> None:
    kinds = await questions_before()
    assert kinds["Next Tuesday please."] is Asked.DAY
    assert kinds["At ten in the morning."] is Asked.TIME
    assert kinds["My name is | Sam Taylor."] is Asked.NAME
    assert kinds["Yes please."] is Asked.YES_NO
    assert kinds["Hi, I would like to book an appointment."] is Asked.OPEN
