"""The closed answers a recogniser scores: the sentences per kind of question, and when a transcript holds one."""
from __future__ import annotations

from flowengine.providers.clock import Window
from flowengine.providers.stt.answers import OUTSIDE_HANDICAP, REFUSED_HANDICAP, answers_for
from flowengine.providers.stt.base import STTContext


def test_open_questions_and_names_without_hints_have_no_closed_answers() -> None:
    assert answers_for(STTContext()) is None
    assert answers_for(STTContext("name")) is None
    assert answers_for(STTContext("digits")) is None  # digits are transcribed freely (or typed: DTMF)


def test_a_day_question_scores_every_day_with_its_usual_openings() -> None:
    answers = answers_for(STTContext("day"))
    assert answers is not None
    assert {"Tuesday", "On Tuesday", "Next Tuesday", "tomorrow", "Next Tuesday, please", "Friday thanks"} <= set(
        answers.first)
    assert answers.value_of("Next Tuesday, please") == "tuesday"
    assert answers.holds("Next Tuesday, please.") and answers.holds("tomorrow")
    assert not answers.holds("Next to a big lean.")
    assert answers.then(("Tuesday",)) == ()


def test_a_time_is_refined_with_its_endings() -> None:
    answers = answers_for(STTContext("time"))
    assert answers is not None
    assert "At ten" in answers.first and "noon" in answers.first
    assert {"At 10", "11"} <= set(answers.first)  # the hours as Whisper mostly writes them too: digits
    assert answers.value_of("At 10 in the morning.") == answers.value_of("At ten.") == "ten"
    refined = answers.then(("At ten", "At one"))
    assert "At ten in the morning." in refined and "At one p.m." in refined and "At ten." in refined
    assert answers.holds("At 10 in the morning.") and answers.holds("eleven a.m.")
    assert not answers.holds("that's the morning.")
    assert answers.then(("noon",)) == ("noon.",)  # "noon in the evening" is nothing anyone says


def test_a_time_just_refused_is_not_taken_again_and_the_rest_are_as_before() -> None:
    # the caller told the hours says another time; the reading refused is the likeliest to be misheard again
    window = Window.parse("8 am", "6 pm")
    refusal = "We book appointments from 8 am to 6 pm, not at 1 am. And what time on Tuesday suits you?"
    answers = answers_for(STTContext("time", question=refusal, window=window))
    assert answers is not None and answers.refused == (60,)
    assert answers.handicap("one in the morning.") == answers.handicap("At 1 a.m.") == REFUSED_HANDICAP
    assert answers.handicap("At one.") == answers.handicap("At ten in the morning.") == 0.0  # 1 pm may be meant
    assert answers.handicap("At 7 in the evening.") == OUTSIDE_HANDICAP  # outside, not refused: heard as before
    assert answers_for(STTContext("time", question="And what time?", window=window)).refused == ()


def test_the_part_of_the_day_heard_is_refined_with_every_hour_booked() -> None:
    # "At ten in the morning." heard "I have saved the morning.": ten was not among the first round's best
    window = Window.parse("8 am", "6 pm")
    answers = answers_for(STTContext("time", window=window), "I have saved the morning.")
    assert answers is not None
    refined = answers.then(("At 3", "1"))
    assert {"At eight in the morning.", "At ten in the morning.", "At eleven in the morning."} <= set(refined)
    assert "At seven in the morning." not in refined and "At 3 in the morning." in refined  # outside: only its own
    assert "At two in the afternoon." in answers_for(STTContext("time"), "and afternoon").then(("At one",))
    assert answers_for(STTContext("time"), "At ten.").then(("At ten",)) == answers_for(STTContext("time")).then(
        ("At ten",))  # nothing heard of the part of the day: the best stems' endings only


def test_yes_no_holds_only_plain_answers_so_a_misheard_correction_is_scored() -> None:
    answers = answers_for(STTContext("yes_no"))
    assert answers is not None
    assert "No, Wednesday." in answers.first and "Yes please." in answers.first
    assert answers.holds("Yes, that's right.") and answers.holds("No, Wednesday.")
    assert not answers.holds("No, when?")  # "when" may be "Wednesday" cut short: scored, not taken as is
    assert not answers.holds("the map right")


def test_names_on_file_follow_the_opening_heard() -> None:
    context = STTContext("name", ("Alex Morgan", "Sam Taylor"))
    answers = answers_for(context, "My name is Malik Morgan.")
    assert answers is not None
    assert set(answers.first) == {"My name is Alex Morgan.", "My name is Sam Taylor."}
    assert answers.holds("my name is alex morgan") and not answers.holds("Malik Morgan")
    bare = answers_for(context, "Lord and lead.")
    assert bare is not None and "Alex Morgan." in bare.first and "My name is Alex Morgan." in bare.first


def test_a_name_far_ahead_counts_only_among_enough_names() -> None:
    few = answers_for(STTContext("name", ("Bright Smile", "Invisalign")), "My name is John Smith.")
    names = ("Ann Lee", "Bo Park", "Cy Young", "Di Ross", "Ed Hall", "Flo Hart")
    many = answers_for(STTContext("name", names), "")
    assert few is not None and few.lead is None and few.floor == -12.0
    assert many is not None and many.lead == 4.0
    assert many.value_of("My name is Di Ross.") == "di ross" and many.value_of("Di.") == ""


def test_an_open_question_scores_the_dialogs_requests_unless_more_was_said() -> None:
    requests = (("book", "I would like to book an appointment."), ("hours", "What are your opening hours?"),
                ("book", "Can I make an appointment?"))
    answers = answers_for(STTContext("open", requests=requests), "I will like to do a more important moment.")
    assert answers is not None and answers.kind == "request" and answers.needs_lead
    assert answers.first == tuple(sentence for _, sentence in requests)
    assert answers.value_of("Can I make an appointment?") == "book" and answers.value_of("Hello.") == ""
    assert not answers.holds("I will like to do a more important moment.")
    assert answers.holds("Can I come in on Tuesday?") and answers.holds("At 10 please")  # values the dialog uses
    assert answers.holds("I was wondering whether you could tell me if the practice takes new patients at all or not")
    # heard as a request already: scoring would only confirm it
    assert answers.holds("Hi, I would like to book an appointment.") and answers.holds("What are your opening hours")
    assert not answers.holds("I would like to do a kind appointment.")  # 0.67: scored, may be heard better
    assert answers_for(STTContext("open")) is None  # a language model: anything may be said


def test_a_transcript_stopping_at_an_answers_opening_is_unfinished() -> None:
    day, time = answers_for(STTContext("day")), answers_for(STTContext("time"))
    name = answers_for(STTContext("name", ("Alex Morgan",)), "My name is")
    assert day is not None and time is not None and name is not None
    assert day.unfinished("Next.") and day.unfinished("on") and not day.unfinished("Next Tuesday")
    assert time.unfinished("At") and not time.unfinished("At ten")
    assert name.unfinished("My name is...") and not name.unfinished("My name is Alex Morgan.")


def test_a_no_that_went_on_is_not_scored_as_a_bare_no() -> None:
    # "No, Wednesday." heard "No, when's me?": the caller said more than no
    went_on = answers_for(STTContext("yes_no", question="Shall I book it?"), "No, when's me?")
    assert went_on is not None
    assert "No, Wednesday." in went_on.then(("No.",)) and "No, that's wrong." in went_on.then(("No.",))
    assert not {"No.", "No thanks."} & set(went_on.then(("No.",)))
    for heard in ("No.", "Go, please.", "when", "No thanks, that's right."):  # nothing after a no, or no no at all
        plain = answers_for(STTContext("yes_no", question="Shall I book it?"), heard)
        assert plain is not None and {"No.", "No thanks."} <= set(plain.then(("No.",)))


def test_a_confirmation_scores_the_other_days_and_hours_than_those_read_back() -> None:
    question = "So that is Tuesday at 5 in the morning for Alex Morgan. Shall I book it?"
    answers = answers_for(STTContext("yes_no", question=question))
    assert answers is not None
    assert "No, Wednesday." in answers.first and "No, Tuesday." not in answers.first
    then = answers.then(("No.",))
    assert {"No, at ten.", "No, at ten in the morning.", "No, Wednesday."} <= set(then)
    assert not any("five" in s or "Tuesday" in s for s in then)  # nobody corrects a value to itself
    assert "No, at eleven a.m." in answers_for(STTContext("yes_no", question="... at 9 am. Shall I?")).then(("No.",))
    # the part of the day in the caller's words, whichever the read-back used
    for read_back, correction in (("at 11 am", "No, at ten in the morning."), ("at 3 in the afternoon", "No, at eleven a.m."),
                                  ("at 10:30 in the morning", "No, at nine p.m.")):
        assert correction in answers_for(STTContext("yes_no", question=f"So that is {read_back}. Shall I?")).then(("No.",))
    assert answers.then(("Yes.",)) == ()


def test_times_the_dialog_does_not_book_score_lower_and_are_not_taken_as_heard() -> None:
    # a practice open 8 am to 6 pm: "seven" means neither, "ten" may mean 10 am, "eleven p.m." is no booking
    window = Window.parse("8 am", "6 pm")
    answers = answers_for(STTContext("time", window=window))
    assert answers is not None
    assert {"At ten", "At seven", "noon"} <= set(answers.first)  # still offered: a time said clearly is heard
    assert answers.handicap("At seven") == answers.handicap("At ten p.m.") == OUTSIDE_HANDICAP > 0
    assert answers.handicap("At ten") == answers.handicap("At ten in the morning.") == answers.handicap("noon") == 0
    assert answers.holds("At 11 a.m.") and answers.holds("At three.")
    assert not answers.holds("At 11 p.m.")  # heard outside the hours: the answers are scored
    unbounded = answers_for(STTContext("time"))
    assert unbounded is not None and unbounded.holds("At 11 p.m.") and unbounded.handicap("At 11 p.m.") == 0
    confirming = answers_for(STTContext("yes_no", question="So that is Monday at 10 in the morning for Sam Taylor. "
                                                           "Shall I book it?", window=window))
    assert confirming is not None and "No, at seven." in confirming.corrections
    assert confirming.handicap("No, at seven.") == OUTSIDE_HANDICAP and confirming.handicap("No, at eleven.") == 0
