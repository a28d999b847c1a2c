"""The offline dialog engine (`rules.<name>`): matching, slots, confirmation, tools, streaming, its honesty."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from flowengine.providers.llm import LLM_PROVIDERS, create_llm
from flowengine.providers.llm.base import (
    ChatMessage,
    LLMConfigError,
    LLMProvider,
    TextDelta,
    ToolCall,
    ToolCallRequest,
    ToolSpec,
    Usage,
)
from flowengine.providers.llm.dialog import State
from flowengine.providers.llm.rules import RulesLLM

SYSTEM = ChatMessage("system", "You answer the phone for a dental office.")
TOOLS = [ToolSpec("set_variables"), ToolSpec("stop_service")]


class Caller:
    """Plays user turns against a provider, keeping the history as the conversation loop would."""

    def __init__(self, llm: LLMProvider, tools: list[ToolSpec] | None = TOOLS) -> None:
        self.llm, self.tools = llm, tools
        self.messages = [SYSTEM]
        self.calls: list[ToolCall] = []
        self.deltas = 0

    async def turn(self, text: str | None = None) -> str:
        if text is not None:
            self.messages.append(ChatMessage("user", text))
        events = [e async for e in self.llm.stream(self.messages, tools=self.tools)]
        assert isinstance(events[-1], Usage)
        reply = "".join(e.text for e in events if isinstance(e, TextDelta))
        self.deltas = sum(isinstance(e, TextDelta) for e in events)
        self.calls = [e.call for e in events if isinstance(e, ToolCallRequest)]
        self.messages.append(ChatMessage("assistant", reply, tool_calls=tuple(self.calls)))
        return reply


async def test_books_an_appointment_end_to_end() -> None:
    caller = Caller(create_llm("rules.appointments"))
    assert "Bright Smile Dental" in await caller.turn()  # speaks first: the greeting
    assert caller.deltas > 10  # streamed word by word
    assert "which day" in (await caller.turn("Hi, I'd like to book an appointment please")).lower()
    assert "what time on Tuesday" in await caller.turn("Tuesday")
    assert "your name" in await caller.turn("at ten thirty in the morning")
    confirm = await caller.turn("my name is John Smith")
    assert confirm == "So that is Tuesday at 10 30 in the morning for John Smith. Shall I book it?"
    assert caller.calls == []
    done = await caller.turn("yes please")
    assert done.startswith("You are booked for Tuesday at 10 30 in the morning.")
    [call] = caller.calls
    assert call.name == "set_variables"
    assert json.loads(call.arguments) == {"variables": {
        "appointment_day": "Tuesday", "appointment_time": "10 30 in the morning", "appointment_name": "John Smith",
        "appointment_phone": ""}}
    assert "Saturday from 9 am" in await caller.turn("What are your opening hours?")
    assert "Goodbye" in await caller.turn("No thanks, goodbye.")
    assert [c.name for c in caller.calls] == ["stop_service"]


async def test_slots_given_up_front_and_a_no_to_the_confirmation() -> None:
    caller = Caller(create_llm("rules.appointments"))
    assert "name" in await caller.turn("Can I book a cleaning for Friday at 3 pm? My number is 555-1234.")
    assert await caller.turn("John") == "So that is Friday at 3 pm for John. Shall I book it?"
    assert await caller.turn("no") == "No problem. Which day would you prefer?"
    # the name is kept (reask: day, time); both new values in one answer
    assert await caller.turn("Wednesday at noon") == "So that is Wednesday at 12 noon for John. Shall I book it?"
    await caller.turn("yeah")
    args = json.loads(caller.calls[0].arguments)["variables"]
    assert (args["appointment_day"], args["appointment_time"], args["appointment_phone"]) == (
        "Wednesday", "12 noon", "5551234")


async def test_no_thanks_is_a_goodbye_unless_a_question_is_open() -> None:
    caller = Caller(create_llm("rules.appointments"))
    assert "Goodbye" in await caller.turn("no thanks")
    caller = Caller(create_llm("rules.appointments"))
    await caller.turn("book me in for Monday at 9 am, this is Ann")
    assert await caller.turn("no thanks") == "No problem. Which day would you prefer?"


async def test_fallback_and_asides_keep_the_pending_question() -> None:
    caller = Caller(create_llm("rules.appointments"))
    assert (await caller.turn("purple elephants")).startswith("Sorry, I did not catch that.")
    await caller.turn("I need to see the dentist")
    assert "We are open" in await caller.turn("when are you open")
    assert "what time on Thursday" in await caller.turn("Thursday")


async def test_tools_are_called_only_when_offered() -> None:
    caller = Caller(create_llm("rules.appointments"), tools=None)
    assert "Goodbye" in await caller.turn("goodbye")
    assert caller.calls == []


async def test_after_a_tool_result() -> None:
    llm = create_llm("rules.appointments")
    call = ToolCall("c1", "set_variables", "{}")
    history = [SYSTEM, ChatMessage("user", "bye"), ChatMessage("assistant", "", tool_calls=(call,))]
    ok = [e async for e in llm.stream([*history, ChatMessage("tool", '{"result": "success"}', tool_call_id="c1")])]
    assert [type(e) for e in ok] == [Usage]  # a successful tool adds nothing to what was said
    failed = [e async for e in llm.stream([*history, ChatMessage("tool", '{"result": "failed"}', tool_call_id="c1")])]
    assert "".join(e.text for e in failed if isinstance(e, TextDelta)).startswith("Sorry, something went wrong")
    error = [e async for e in llm.stream([*history, ChatMessage("tool", '{"error": "no"}', tool_call_id="c1")])]
    assert "".join(e.text for e in error if isinstance(e, TextDelta)).startswith("Sorry, something went wrong")


def test_it_never_claims_to_be_a_language_model() -> None:
    llm = create_llm("rules.appointments")
    assert isinstance(llm, RulesLLM) and llm.is_llm is False and llm.name == "rules"
    assert "rules" in LLM_PROVIDERS.names()
    text = Path(__file__).resolve().parents[2].joinpath(
        "flowengine/providers/llm/examples/appointments.yaml").read_text().lower()
    assert "language model" not in text.replace("not a language model", "")


INLINE: dict[str, Any] = {
    "greeting": "Hi {who}, pizza or pasta?",
    "variables": {"who": "there"},
    "slots": {"size": {"pattern": r"\b(?P<value>small|large)\b"}},
    "intents": [
        {"name": "pizza", "examples": ["pizza please", "I want a pizza"], "requires": ["size"],
         "ask": {"size": "Small or large?"}, "reply": "One {size} pizza for {who}.",
         "tool": {"name": "set_variables", "arguments": {"variables": {"order": "pizza {size}"}}}},
    ],
}


async def test_inline_rules_with_variables_from_the_parameter() -> None:
    caller = Caller(create_llm("rules.pizza", parameter={"rules": INLINE, "variables": {"who": "Ann"}}))
    assert await caller.turn() == "Hi Ann, pizza or pasta?"
    assert await caller.turn("pizza please") == "Small or large?"
    assert await caller.turn("large") == "One large pizza for Ann."
    assert json.loads(caller.calls[0].arguments) == {"variables": {"order": "pizza large"}}


async def test_rules_dir_and_rules_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    (tmp_path / "pizza.yaml").write_text(yaml.safe_dump(INLINE))
    for llm in (create_llm("rules.pizza", parameter={"rules_dir": str(tmp_path)}),
                create_llm("rules.whatever", parameter={"rules_file": str(tmp_path / "pizza.yaml")})):
        assert await Caller(llm).turn() == "Hi there, pizza or pasta?"
    monkeypatch.setenv("FLOWENGINE_RULES_DIR", str(tmp_path))
    assert await Caller(create_llm("rules.pizza")).turn() == "Hi there, pizza or pasta?"


def test_missing_rule_set_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(LLMConfigError, match=r"no rule set 'nope'.*" + str(tmp_path)):
        create_llm("rules.nope", parameter={"rules_dir": str(tmp_path)})
    with pytest.raises(LLMConfigError, match="use letters"):
        create_llm("rules.../etc/passwd")


def test_every_problem_of_a_bad_rule_set_is_reported_at_once() -> None:
    bad = {
        "slots": {"day": {"pattern": "(unclosed"}},
        "intents": [
            {"name": "a", "examples": ["x"], "requires": ["time"], "reply": "at {when}", "confirm": "ok?"},
            {"name": "a", "reply": "twice"},
            {"name": "b", "examples": ["y"]},
        ],
    }
    with pytest.raises(LLMConfigError) as info:
        create_llm("rules.bad", parameter={"rules": bad})
    text = str(info.value)
    for problem in ("bad regex '(unclosed'", "unknown slot 'time'", "unknown name {when}", "used twice",
                    "needs examples or patterns", "says nothing and does nothing", "answers: yes"):
        assert problem in text, problem
    with pytest.raises(LLMConfigError, match=r"intents\.0\.colour: Extra inputs are not permitted"):
        create_llm("rules.bad", parameter={"rules": {"intents": [{"name": "a", "reply": "r", "colour": 1}]}})


async def test_a_no_with_a_new_value_corrects_it_and_asks_only_what_is_left() -> None:
    caller = Caller(create_llm("rules.appointments"))
    await caller.turn("Can I book a cleaning?")
    await caller.turn("Monday.")
    await caller.turn("At eleven a.m.")
    assert await caller.turn("Jordan Lee.") == "So that is Monday at 11 am for Jordan Lee. Shall I book it?"
    # the day said with the no replaces Monday; the time (reask) is asked again, the day is not
    assert await caller.turn("No, Wednesday.") == "And what time on Wednesday suits you?"
    assert await caller.turn("At eleven a.m.") == "So that is Wednesday at 11 am for Jordan Lee. Shall I book it?"
    await caller.turn("Yes.")
    args = json.loads(caller.calls[0].arguments)["variables"]
    assert (args["appointment_day"], args["appointment_time"]) == ("Wednesday", "11 am")


async def test_a_no_with_a_new_time_keeps_the_day_asked_before_it() -> None:
    caller = Caller(create_llm("rules.appointments"))
    await caller.turn("I would like to book an appointment.")
    await caller.turn("Next Tuesday.")
    await caller.turn("At nine in the morning.")  # "ten", misheard
    assert await caller.turn("My name is Alex Morgan.") == (
        "So that is Tuesday at 9 in the morning for Alex Morgan. Shall I book it?")
    assert await caller.turn("No, at ten in the morning.") == (
        "So that is Tuesday at 10 in the morning for Alex Morgan. Shall I book it?")
    assert await caller.turn("No.") == "No problem. Which day would you prefer?"  # a plain no asks again


async def test_an_opening_value_starts_the_one_request_that_needs_it_and_thats_right_confirms() -> None:
    caller = Caller(create_llm("rules.appointments"))
    assert "did not catch" in await caller.turn("I will complete.")  # the request itself misheard
    assert await caller.turn("Monday.") == "And what time on Monday suits you?"
    await caller.turn("At eleven a.m.")
    assert await caller.turn("Jordan Lee.") == "So that is Monday at 11 am for Jordan Lee. Shall I book it?"
    assert (await caller.turn("That's right.")).startswith("You are booked for Monday at 11 am.")


def test_the_requests_a_recogniser_may_score_are_the_intents_examples_as_sentences() -> None:
    phrases = RulesLLM(model="appointments").request_phrases()
    assert ("book", "Can I make an appointment?") in phrases and ("hours", "What are your opening hours?") in phrases
    assert all(len(sentence.split()) >= 3 for _, sentence in phrases)  # "hi", "bye": prefixes of anything
    assert not {"affirm", "deny"} & {what for what, _ in phrases}  # answers, not requests


def test_an_example_that_starts_with_a_verb_is_also_scored_as_callers_ask_for_it() -> None:
    llm = RulesLLM(model="appointments")
    phrases = llm.request_phrases()
    asked = [sentence for what, sentence in phrases if what == "book" and "book a cleaning" in sentence.lower()]
    assert asked == ["Book a cleaning.", "Can I book a cleaning?", "Can you book a cleaning?",
                     "I would like to book a cleaning."]
    assert [s for _, s in phrases if s.endswith("make an appointment?")] == ["Can I make an appointment?"]  # as said
    dialog = llm.dialog
    for sentence in asked:  # each form is the request it was made from
        assert dialog.step(State(), sentence)[1].intent == "book"
    # the caller is its object: asked of the agent only, never "Can I transfer me to a human?"
    transfer = [sentence for _, sentence in phrases if "transfer me to a human" in sentence.lower()]
    assert transfer == ["Transfer me to a human.", "Can you transfer me to a human?"]


async def test_an_answer_not_understood_asks_its_question_again_and_keeps_the_request() -> None:
    caller = Caller(create_llm("rules.appointments"))
    assert await caller.turn("I would like to book an appointment.") == "Sure. Which day would you like to come in?"
    # misheard: the request stays, its question is asked again (not "You can book an appointment or ...")
    assert await caller.turn("in the soup that green.") == "Sorry, I did not catch that. Which day would you like to come in?"
    assert await caller.turn("Next Tuesday please.") == "And what time on Tuesday suits you?"
    assert await caller.turn("and I stand.") == "Sorry, I did not catch that. And what time on Tuesday suits you?"
    await caller.turn("At ten in the morning.")
    read_back = await caller.turn("Alex Morgan.")
    assert await caller.turn("the F-5.") == f"Sorry, I did not catch that. {read_back}"  # the read-back again, whole
    assert (await caller.turn("Yes.")).startswith("You are booked for Tuesday at 10 in the morning.")
    # nothing pending: a request not understood gets the rule set's fallback
    assert await caller.turn("the F-5.") == RulesLLM(model="appointments").dialog.rules.fallback


async def test_what_is_said_before_a_question_asked_again_is_the_rule_sets() -> None:
    rules = {"not_caught": "Pardon, {name}?", "slots": {"name": {"pattern": r"\b(alex)\b"}, "day": {"pattern": r"\b(monday)\b"}},
             "intents": [{"name": "greet", "examples": ["hello there"], "requires": ["name", "day"],
                          "ask": {"name": "Who is it?", "day": "OK {name}. Which day?"}, "reply": "Hi"}]}
    caller = Caller(create_llm("rules.custom", parameter={"rules": rules}))
    await caller.turn("hello there alex")
    assert await caller.turn("mumble") == "Pardon, alex? Which day?"
    with pytest.raises(LLMConfigError, match=r"not_caught: unknown name \{nope\}"):
        create_llm("rules.bad", parameter={"rules": {**rules, "not_caught": "Pardon {nope}?"}})


def test_a_request_with_a_word_misheard_is_still_nearer_its_request_than_another_asked_alike() -> None:
    # "Can I walk a cleaning?" (tiny.en, two voices, real calls) shares "can I ... a" with "can I speak to a person":
    # against the bare example "book a cleaning" it was put through to the front desk
    dialog = RulesLLM(model="appointments").dialog
    assert dialog.step(State(), "Can I walk a cleaning?")[1].intent == "book"
    assert dialog.step(State(), "Can I talk to a person?")[1].intent == "human"


@pytest.mark.parametrize(("said", "stored"), [("At 11 o'clock.", "11 am"), ("At three.", "3 pm"), ("Eleven.", "11 am"),
                                              ("At 12 o'clock.", "12 noon"), ("At 5 p.m.", "5 pm"),
                                              ("At ten in the morning.", "10 in the morning")])
def test_an_hour_said_bare_is_the_time_of_day_the_practice_is_open(said: str, stored: str) -> None:
    # the demo practice is open 8 am to 6 pm: its rule set books "At 11 o'clock" for 11 am and reads it back so
    dialog = RulesLLM(model="appointments").dialog
    state, _ = dialog.step(State(), "Can I book a cleaning on Monday?")
    state, _ = dialog.step(state, said)
    assert state.slots["time"] == stored


async def test_a_time_outside_the_hours_booked_is_refused_and_asked_again() -> None:
    caller = Caller(create_llm("rules.appointments"))  # the demo practice books from 8 am to 6 pm
    await caller.turn("Can I book a cleaning?")
    await caller.turn("Monday.")
    assert await caller.turn("At 7 p.m.") == ("We book appointments from 8 am to 6 pm, not at 7 pm. "
                                              "And what time on Monday suits you?")
    assert await caller.turn("At seven.") == ("We book appointments from 8 am to 6 pm, not at 7. "
                                              "And what time on Monday suits you?")  # neither 7 am nor 7 pm
    assert await caller.turn("At ten in the morning.") == "May I have your name, please?"
    assert await caller.turn("Jordan Lee.") == "So that is Monday at 10 in the morning for Jordan Lee. Shall I book it?"
    # a no with a time outside corrects the time as any other time would: the day stands
    assert await caller.turn("No, at 11 p.m.") == ("We book appointments from 8 am to 6 pm, not at 11 pm. "
                                                   "And what time on Monday suits you?")
    assert await caller.turn("At eleven.") == "So that is Monday at 11 am for Jordan Lee. Shall I book it?"
    await caller.turn("Yes.")
    args = json.loads(caller.calls[0].arguments)["variables"]
    assert (args["appointment_day"], args["appointment_time"]) == ("Monday", "11 am")


def test_a_request_opened_with_a_time_outside_starts_and_says_so() -> None:
    dialog = RulesLLM(model="appointments").dialog
    state, turn = dialog.step(State(), "Can I book a cleaning at 9 pm?")
    assert turn.reply == "We book appointments from 8 am to 6 pm, not at 9 pm. Which day would you like to come in?"
    assert state.pending == "book" and "time" not in state.slots
    assert dialog.time_window is not None and (dialog.time_window.start, dialog.time_window.end) == (480, 1080)
    assert RulesLLM(model="appointments").time_window() == dialog.time_window


@pytest.mark.parametrize(("slot", "problem"), [
    ({"within": ["8 am"], "outside": "No."}, "slots.time.within: give the first and the last time booked, not 1"),
    ({"within": ["8 am", "late"], "outside": "No."}, "slots.time.within: 'late' is not one time of day"),
    ({"within": ["8 am", "6 pm"]}, "slots.time.outside: say what the caller hears"),
    ({"outside": "No."}, "slots.time.outside: needs `within`"),
    ({"within": ["8 am", "6 pm"], "outside": "Not at {when}."}, "slots.time.outside: unknown name {when}"),
])
def test_a_window_of_times_is_checked_with_the_rule_set(slot: dict[str, object], problem: str) -> None:
    rules = {"slots": {"time": {"pattern": "(?P<value>\\d+ (?:am|pm))", **slot}},
             "intents": [{"name": "book", "examples": ["book"], "requires": ["time"], "reply": "At {time}."}]}
    with pytest.raises(LLMConfigError, match=re.escape(problem)):
        create_llm("rules.bad", parameter={"rules": rules})


@pytest.mark.parametrize("heard", ["This is", "It's", "My name is", "I am"])
def test_a_name_question_answered_with_an_opening_alone_is_asked_again(heard: str) -> None:
    # a real call heard "Yes please." as "This is" at the name question and booked "This Is"
    dialog = RulesLLM(model="appointments").dialog
    state, _ = dialog.step(State(), "Can I book a cleaning on Monday at 10 am?")
    state, turn = dialog.step(state, heard)
    assert "name" not in state.slots and turn.reply == "Sorry, I did not catch that. May I have your name, please?"
    state, turn = dialog.step(state, "This is Sam Taylor.")
    assert state.slots["name"] == "Sam Taylor"
