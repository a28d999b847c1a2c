"""The answer the agent's last question expects, read from its words (rules engine questions and LLM-like ones)."""
from __future__ import annotations

import pytest

from flowengine.ai.voice.expectation import asking, expectation, last_question
from flowengine.providers.clock import Window
from flowengine.providers.llm.base import ChatMessage, ToolCall
from flowengine.providers.stt.base import OPEN


@pytest.mark.parametrize(("question", "kind"), [
    # the rules engine's appointments questions
    ("Hello, this is Bright Smile Dental. I can book an appointment or tell you our opening hours. How can I help?",
     "open"),
    ("Sure. Which day would you like to come in?", "day"),
    ("And what time on Tuesday suits you?", "time"),
    ("May I have your name, please?", "name"),
    ("So that is Tuesday at 10 in the morning for Alex Morgan. Shall I book it?", "yes_no"),
    ("No problem. Which day would you prefer?", "day"),
    ("You are booked for Tuesday at 10. We will see you then. Is there anything else?", "open"),
    # what a language model might say
    ("Could I get a phone number where we can reach you?", "digits"),
    ("Please enter your account number.", "digits"),
    ("What date works best for you?", "day"),
    ("Great, what time would you like?", "time"),
    ("Can I take your full name?", "name"),
    ("Just to confirm, that's Friday at 3 pm, is that right?", "yes_no"),
    ("Would you like me to send a reminder?", "yes_no"),
    ("Thanks for calling. We open at 8 am.", "open"),
    ("When would you like to come?", "day"),
    ("Would you prefer the morning or the afternoon?", "time"),
    ("Who am I speaking with?", "name"),
    ("What is the best number to reach you?", "digits"),
    ("Is that the right number?", "yes_no"),  # a confirmation, though it says "number"
    ("", "open"),
])
def test_the_kind_of_answer_comes_from_the_question(question: str, kind: str) -> None:
    context = expectation(question)
    assert context.expect == kind
    assert context.question == question.strip()


def test_names_on_file_are_hints_only_for_name_questions() -> None:
    names = ("Alex Morgan", "Sam Taylor")
    assert expectation("May I have your name, please?", hints=names).hints == names
    assert expectation("Which day would you like?", hints=names).hints == ()


def test_the_last_question_is_the_agents_words_after_the_callers_last_turn() -> None:
    asked = ChatMessage("assistant", "Which day would you like to come in?")
    tool_only = ChatMessage("assistant", "", tool_calls=(ToolCall("c1", "set_variables", "{}"),))
    tool = ChatMessage("tool", "{}", tool_call_id="c1")
    assert last_question([ChatMessage("user", "book please"), asked]) == asked.content
    assert last_question([asked, tool_only, tool]) == asked.content
    assert last_question([asked, ChatMessage("user", "Tuesday")]) == ""  # answered: nothing pending
    assert last_question([]) == ""


def test_the_asking_sentence_of_a_reply_is_the_one_answered() -> None:
    assert asking("Which day? Actually, what time suits you? We are busy.") == "actually, what time suits you?"
    assert asking("We are open until six.") == "we are open until six."


def test_the_dialogs_requests_go_only_with_open_questions() -> None:
    requests = (("book", "I would like to book an appointment."),)
    assert expectation("How can I help?", requests=requests).requests == requests
    assert expectation("", requests=requests).requests == requests  # the caller spoke first
    assert expectation("Which day would you like?", requests=requests).requests == ()
    assert expectation("") == OPEN


def test_the_times_booked_go_with_time_questions_and_confirmations() -> None:
    window = Window.parse("8 am", "6 pm")
    assert expectation("And what time on Monday suits you?", window=window).window == window
    assert expectation("So that is Monday at 10 am for Sam. Shall I book it?", window=window).window == window
    assert expectation("Which day would you like?", window=window).window is None
    assert expectation("How can I help?", window=window).window is None
