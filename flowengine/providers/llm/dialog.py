"""The rule engine's turn logic: match an intent, fill slots, ask, confirm, reply, call a tool. Deterministic."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from flowengine.providers.llm.ruleset import TEMPLATE_NAME, Intent, RuleSet
from flowengine.providers.llm.textnorm import sentences, tokens

# A request a recogniser scores as a whole sentence (LLMProvider.request_phrases): shorter examples ("hi", "bye") are
# prefixes of too many sentences and win on any that starts with them (measured, docs/decisions.md)
MIN_REQUEST_WORDS = 3
_QUESTION_WORDS = frozenset(("can", "could", "may", "what", "when", "where", "are", "is", "do", "does", "will", "would"))


# An example that starts with a verb ("book a cleaning") is what the caller wants, and callers ask for it: "Can I book
# a cleaning?", "I would like to book a cleaning." (measured on "Can I book a cleaning?", 7 voices x clean / 10 dB:
# heard as a request 0 -> 8 of 14 with these forms beside the bare one; docs/decisions.md). An example that starts
# with anything else is already said as a caller says it.
_NOT_A_VERB = _QUESTION_WORDS | frozenset((
    "i", "i'd", "i'm", "we", "you", "my", "our", "it", "this", "that", "the", "a", "an", "hello", "hi", "hey", "good",
    "yes", "no", "not", "nothing", "thanks", "thank", "please", "how", "why", "who", "which", "there"))
_ASKED_FOR = ("Can I {}?", "Can you {}?", "I would like to {}.")
_ASKED_OF_YOU = ("Can you {}?",)  # an example the caller is the object of ("transfer me"): only asked of the agent


def _sentence(example: str) -> str:
    """An intent example ("can I make an appointment") as a caller says it: "Can I make an appointment?"."""
    text = example.strip()
    mark = "?" if text.split()[0].lower() in _QUESTION_WORDS else "."
    return text[:1].upper() + text[1:] + mark


def _sentences(example: str) -> tuple[str, ...]:
    """The example as a caller says it, and, when it starts with a verb, as a caller asks for it."""
    text = example.strip()
    words = text.lower().split()
    if words[0] in _NOT_A_VERB:
        return (_sentence(text),)
    forms = _ASKED_OF_YOU if {"me", "myself"} & {word.strip(".,?!") for word in words} else _ASKED_FOR
    return (_sentence(text), *(form.format(text[:1].lower() + text[1:]) for form in forms))


def _question(reply: str) -> str:
    """The sentences of `reply` from its first question on ("Sure. Which day would you like?" -> "Which day would
    you like?"): what is asked again, without the acknowledgement that led into it the first time."""
    said = sentences(reply)
    first = next((i for i, part in enumerate(said) if part.endswith("?")), 0)
    return " ".join(said[first:])


@dataclass(frozen=True)
class State:
    slots: dict[str, str] = field(default_factory=dict)
    pending: str = ""  # the intent waiting for slots or for a yes/no
    confirming: bool = False


@dataclass(frozen=True)
class Turn:
    reply: str
    intent: str = ""  # "" = fallback
    tool: tuple[str, str] | None = None  # (name, arguments JSON)


class Dialog:
    """`step(state, text)` -> (new state, what to say and do). A conversation is replayed from its
    user turns, so the engine keeps no hidden state between calls."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self._slots = {name: re.compile(s.pattern) for name, s in rules.slots.items()}
        self._answers = {name: re.compile(s.when_asked) for name, s in rules.slots.items() if s.when_asked}
        self._windows = {name: w for name, s in rules.slots.items() if (w := s.window()) is not None}
        self.time_window = rules.time_window()  # what the recogniser is told a time answer falls within
        self._patterns = [(i, [re.compile(p) for p in i.patterns]) for i in rules.intents]
        # a request's examples as callers ask for them too ("Can I book a cleaning?"): a word misheard in the asking
        # ("Can I walk a cleaning?") is then still nearer its request than another that shares the asking words
        # ("can I speak to a person")
        self._examples = [(i, [frozenset(tokens(form)) for e in i.examples
                               for form in (_sentences(e) if i.answers is None else (e,))]) for i in rules.intents]
        self.requests = tuple((i.name, sentence) for i in rules.intents if i.answers is None
                              for e in i.examples if len(e.split()) >= MIN_REQUEST_WORDS for sentence in _sentences(e))

    def greeting(self) -> str:
        return self.render(self.rules.greeting, {})

    def step(self, state: State, text: str) -> tuple[State, Turn]:
        words = tokens(text)
        intent = self.match(words, confirming=state.confirming)
        heard = self.extract(" ".join(words))
        pending = self.rules.intent(state.pending) if state.pending else None
        if intent is None and pending is None and heard:
            intent = self._asked_by_values(heard)
        if pending and not state.confirming and (intent is None or intent is pending):
            asked = next((s for s in pending.requires if s not in state.slots), "")
            if asked in self._answers and asked not in heard:
                heard.update(self._value(asked, self._answers[asked], " ".join(words)))
        refused = {name: heard.pop(name) for name in list(heard) if not self._booked(name, heard[name])}
        state, turn = self._answer(replace(state, slots={**state.slots, **heard}), intent, pending, heard, set(refused))
        return self._refuse(state, turn, refused) if refused else (state, turn)

    def _booked(self, name: str, value: str) -> bool:
        window = self._windows.get(name)
        return window is None or window.allows(value)

    def _refuse(self, state: State, turn: Turn, refused: dict[str, str]) -> tuple[State, Turn]:
        """A value outside its slot's window ("at 7 pm" at a practice open 8 am to 6 pm) is not kept (nor what it
        was to replace): the slot's `outside` sentence is said, then its question asked again."""
        slots = {k: v for k, v in state.slots.items() if k not in refused}
        said = " ".join(self.render(self.rules.slots[name].outside, {**slots, name: value})
                        for name, value in refused.items())
        pending = self.rules.intent(state.pending) if state.pending else None
        if pending is not None and any(name in pending.requires for name in refused):
            state, turn = self._progress(State(slots, pending.name, False), pending)
            return state, replace(turn, reply=f"{said} {_question(turn.reply)}")
        return replace(state, slots=slots), replace(turn, reply=f"{said} {turn.reply}".strip())

    def _answer(self, state: State, intent: Intent | None, pending: Intent | None, heard: dict[str, str],
                refused: set[str]) -> tuple[State, Turn]:
        """The reply to what was heard; `refused`: slots named with a value outside their window (a "No, at 7 pm"
        corrects the time as much as "No, at 10 am" does)."""
        if pending and state.confirming:
            if intent and intent.answers == "yes":
                return self._complete(state, pending)
            if intent and intent.answers == "no":
                # "No, Wednesday": the value said with the no replaces the old one and is not asked again; what
                # is asked after it may depend on it (the time on another day) and is asked again, what is asked
                # before it stands ("No, at ten" keeps the day)
                reask = pending.requires if pending.reask is None else pending.reask
                said = [pending.requires.index(s) for s in (*heard, *refused) if s in pending.requires]
                forget = {s for s in reask if s not in heard and (not said or pending.requires.index(s) > min(said))}
                slots = {k: v for k, v in state.slots.items() if k not in forget}
                state = State(slots, pending.name, False)
                if pending.on_no and not heard and not refused:
                    return state, Turn(self.render(pending.on_no, state.slots), pending.name)
                return self._progress(state, pending)
            if any(s in heard for s in pending.requires) and (intent is None or intent is pending):
                return self._progress(state, pending)  # "make it Wednesday": confirm the new values
        elif pending and (intent is None or intent is pending or intent.answers) and heard:
            return self._progress(state, pending)
        if intent is None and pending is not None:
            # an answer not understood: its question asked again (the caller stays where the request was)
            state, turn = self._progress(state, pending)
            again = turn.reply if state.confirming else _question(turn.reply)  # a read-back is read again whole
            return state, replace(turn, reply=f"{self.render(self.rules.not_caught, state.slots)} {again}")
        if intent is None or (intent.answers and not (intent.reply or intent.tool)):
            return state, Turn(self.render(self.rules.fallback, state.slots))
        if intent.requires and intent is not pending:
            # A fresh request: only what was said just now (or is still being asked for) counts.
            state = replace(state, slots={k: v for k, v in state.slots.items() if k not in intent.requires or k in heard})
        return self._progress(replace(state, pending=intent.name if intent.requires else state.pending), intent)

    def _asked_by_values(self, heard: dict[str, str]) -> Intent | None:
        """A caller who opens with a value ("Monday.", the request itself misheard or unsaid) means the one
        intent that needs it; with several (or none) such intents nothing is assumed."""
        wanting = [i for i in self.rules.intents if i.requires and set(heard) & set(i.requires)]
        return wanting[0] if len(wanting) == 1 else None

    def _progress(self, state: State, intent: Intent) -> tuple[State, Turn]:
        missing = [s for s in intent.requires if s not in state.slots]
        if missing:
            question = intent.ask.get(missing[0]) or f"What {missing[0]} would you like?"
            return State(state.slots, intent.name, False), Turn(self.render(question, state.slots), intent.name)
        if intent.confirm:
            return State(state.slots, intent.name, True), Turn(self.render(intent.confirm, state.slots), intent.name)
        return self._complete(state, intent)

    def _complete(self, state: State, intent: Intent) -> tuple[State, Turn]:
        tool = None
        if intent.tool:
            tool = (intent.tool.name, json.dumps(self._render_value(intent.tool.arguments, state.slots)))
        # an aside ("what are your hours?") leaves the pending request as it was
        done = State(state.slots) if state.pending == intent.name else state
        return done, Turn(self.render(intent.reply, state.slots), intent.name, tool)

    def extract(self, text: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for name, pattern in self._slots.items():
            found.update(self._value(name, pattern, text))
        return found

    def _value(self, name: str, pattern: re.Pattern[str], text: str) -> dict[str, str]:
        m = pattern.search(text)
        if m is None:
            return {}
        value = (m.group("value") if "value" in pattern.groupindex else m.group(0)) or ""
        slot, value = self.rules.slots[name], value.strip()
        if value in slot.values:
            value = slot.values[value]  # written by the rule author: used as is
        elif slot.capitalize:
            value = " ".join(w[:1].upper() + w[1:] for w in value.split())
        return {name: value} if value else {}

    def match(self, words: list[str], *, confirming: bool = False) -> Intent | None:
        """Best word overlap with an example (Dice score >= threshold), else the first intent whose
        pattern matches. Ties go to yes/no intents while a confirmation is open, else to the others,
        then to the earlier intent ("no thanks" is an answer to "shall I book it?", else a goodbye)."""
        said = frozenset(words)
        best: tuple[float, int, Intent | None] = (0.0, 0, None)
        if said:
            for intent, examples in self._examples:
                preferred = int((intent.answers is not None) == confirming)
                for example in examples:
                    score = 2 * len(said & example) / (len(said) + len(example)) if example else 0.0
                    if (score, preferred) > best[:2]:
                        best = (score, preferred, intent)
        if best[2] is not None and best[0] >= self.rules.threshold:
            return best[2]
        text = " ".join(words)
        candidates = [i for i, patterns in self._patterns if any(p.search(text) for p in patterns)]
        candidates.sort(key=lambda i: (i.answers is not None) != confirming)  # stable: file order otherwise
        return candidates[0] if candidates else None

    def render(self, template: str, slots: dict[str, str]) -> str:
        values = {**self.rules.variables, **slots}
        return TEMPLATE_NAME.sub(lambda m: values.get(m.group(1), ""), template).strip()

    def _render_value(self, value: Any, slots: dict[str, str]) -> Any:
        if isinstance(value, str):
            return self.render(value, slots)
        if isinstance(value, dict):
            return {k: self._render_value(v, slots) for k, v in value.items()}
        if isinstance(value, list):
            return [self._render_value(v, slots) for v in value]
        return value
