"""Rule sets of the offline dialog engine: the document model, its checks, and where rule files are found."""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flowengine.providers.clock import Window
from flowengine.providers.llm.base import LLMConfigError

RULES_DIR_ENV = "FLOWENGINE_RULES_DIR"
TEMPLATE_NAME = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_.]*)\}")
DEFAULT_FALLBACK = "Sorry, I did not catch that. Could you say it again?"
DEFAULT_NOT_CAUGHT = "Sorry, I did not catch that."


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Slot(_Doc):
    """A value taken from what the caller said: the regex runs on normalised text (lower case, numbers
    as digits); the named group `value` (else the whole match) is the value, `values` renames it."""

    pattern: str
    when_asked: str = ""  # tried only on the answer to this slot's question ("John Smith" after "Your name?")
    values: dict[str, str] = Field(default_factory=dict)
    capitalize: bool = False  # "john smith" -> "John Smith" (the text was lower-cased for matching; not `values`)
    # a time of day: the first and last times booked (["8 am", "6 pm"]); a value outside is refused with `outside`
    # and the slot asked again, and the recogniser prefers a reading inside (providers/clock.py)
    within: list[str] = Field(default_factory=list)
    outside: str = ""  # said when a value falls outside `within`; the slot's own name ({time}) is the value refused

    def window(self) -> Window | None:
        return Window.parse(*self.within) if len(self.within) == 2 else None


class ToolUse(_Doc):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)  # strings may hold {slot} / {variable}


class Intent(_Doc):
    name: str
    examples: list[str] = Field(default_factory=list)  # matched by word overlap
    patterns: list[str] = Field(default_factory=list)  # regexes on normalised text, tried after examples
    answers: Literal["yes", "no"] | None = None  # answers a pending confirmation
    requires: list[str] = Field(default_factory=list)  # slots asked for, in order, before completing
    ask: dict[str, str] = Field(default_factory=dict)  # slot -> question
    confirm: str = ""  # asked once every required slot is known; a `yes` intent completes, `no` re-asks
    on_no: str = ""  # said when the caller answers no to the confirmation
    reask: list[str] | None = None  # slots forgotten after a no (default: every required slot)
    reply: str = ""
    tool: ToolUse | None = None


class RuleSet(_Doc):
    name: str = ""
    description: str = ""
    threshold: float = Field(0.5, gt=0, le=1)  # minimum word-overlap score (Dice) for an example to match
    greeting: str = ""  # said when the agent speaks first
    fallback: str = DEFAULT_FALLBACK
    # said before the question still open is asked again, when an answer to it was not understood (a request
    # waiting for a slot or for its confirmation); `fallback` is for a caller whose request was not understood
    not_caught: str = DEFAULT_NOT_CAUGHT
    tool_failed: str = ""  # said when a tool result reports failure
    variables: dict[str, str] = Field(default_factory=dict)  # template defaults; parameter.variables wins
    slots: dict[str, Slot] = Field(default_factory=dict)
    intents: list[Intent] = Field(min_length=1)

    def intent(self, name: str) -> Intent:
        return next(i for i in self.intents if i.name == name)

    def time_window(self) -> Window | None:
        """The times of day booked: the window of the first slot that has one."""
        return next((w for slot in self.slots.values() if (w := slot.window()) is not None), None)


def parse_rules(data: object, *, source: str, variables: Mapping[str, str] | None = None) -> RuleSet:
    """Validate a rule set; every problem is reported at once, prefixed with where it came from."""
    try:
        rules = RuleSet.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()]
        raise LLMConfigError(f"rule set {source}: " + "; ".join(problems)) from None
    if variables:
        rules = rules.model_copy(update={"variables": {**rules.variables, **variables}})
    problems = _check(rules)
    if problems:
        raise LLMConfigError(f"rule set {source}: " + "; ".join(problems))
    return rules


def _check(rules: RuleSet) -> list[str]:
    problems: list[str] = []
    names = set(rules.slots) | set(rules.variables)

    def regex(where: str, pattern: str) -> None:
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.append(f"{where}: bad regex {pattern!r}: {exc}")

    def template(where: str, text: object) -> None:
        if isinstance(text, str):
            problems.extend(f"{where}: unknown name {{{n}}} (slots and variables: {', '.join(sorted(names)) or 'none'})"
                            for n in TEMPLATE_NAME.findall(text) if n not in names)
        elif isinstance(text, dict):
            for key, value in text.items():
                template(f"{where}.{key}", value)
        elif isinstance(text, list):
            for i, value in enumerate(text):
                template(f"{where}[{i}]", value)

    for name, slot in rules.slots.items():
        regex(f"slots.{name}.pattern", slot.pattern)
        if slot.when_asked:
            regex(f"slots.{name}.when_asked", slot.when_asked)
        if slot.within:
            try:
                if len(slot.within) != 2:
                    raise ValueError(f"give the first and the last time booked, not {len(slot.within)} times")
                slot.window()
            except ValueError as exc:
                problems.append(f"slots.{name}.within: {exc}")
            template(f"slots.{name}.outside", slot.outside)
            if not slot.outside:
                problems.append(f"slots.{name}.outside: say what the caller hears for a time outside `within`")
        elif slot.outside:
            problems.append(f"slots.{name}.outside: needs `within` (the first and the last time booked)")
    for what in ("greeting", "fallback", "not_caught", "tool_failed"):
        template(what, getattr(rules, what))
    seen: set[str] = set()
    for i, intent in enumerate(rules.intents):
        where = f"intents[{i}] ({intent.name})"
        if intent.name in seen:
            problems.append(f"{where}: intent name used twice")
        seen.add(intent.name)
        if not intent.examples and not intent.patterns:
            problems.append(f"{where}: needs examples or patterns")
        for pattern in intent.patterns:
            regex(f"{where}.patterns", pattern)
        problems.extend(f"{where}: unknown slot {slot_name!r}"
                        for slot_name in [*intent.requires, *intent.ask, *(intent.reask or ())]
                        if slot_name not in rules.slots)
        for what in ("confirm", "on_no", "reply"):
            template(f"{where}.{what}", getattr(intent, what))
        for slot_name, question in intent.ask.items():
            template(f"{where}.ask.{slot_name}", question)
        if intent.tool:
            template(f"{where}.tool.arguments", intent.tool.arguments)
        if not intent.answers and not (intent.reply or intent.tool or intent.requires):
            problems.append(f"{where}: says nothing and does nothing (give it a reply, a tool or required slots)")
    if any(i.confirm for i in rules.intents) and not {"yes", "no"} <= {i.answers for i in rules.intents}:
        problems.append("a confirm question needs an intent with `answers: yes` and one with `answers: no`")
    return problems


def load_rules(model: str, parameter: Mapping[str, Any]) -> RuleSet:
    """The rule set for `rules.<model>`: `parameter.rules` (inline), else `parameter.rules_file`, else
    `<model>.yaml` in `parameter.rules_dir`, then $FLOWENGINE_RULES_DIR, then the packaged examples."""
    variables = parameter.get("variables") or {}
    if not isinstance(variables, Mapping):
        raise LLMConfigError("parameter.variables must be a mapping of names to text")
    variables = {str(k): str(v) for k, v in variables.items()}
    inline = parameter.get("rules")
    if inline is not None:
        return parse_rules(inline, source=f"parameter.rules ({model})", variables=variables)
    if rules_file := parameter.get("rules_file"):
        return _load_file(Path(str(rules_file)), variables)
    if not re.fullmatch(r"[A-Za-z0-9_-]+", model):
        raise LLMConfigError(f"rule set name {model!r}: use letters, digits, '-' and '_' (rules.<name>)")
    searched: list[str] = []
    for folder in (parameter.get("rules_dir"), os.environ.get(RULES_DIR_ENV)):
        if folder:
            for suffix in (".yaml", ".yml"):
                path = Path(str(folder)) / f"{model}{suffix}"
                if path.is_file():
                    return _load_file(path, variables)
            searched.append(str(folder))
    packaged = resources.files("flowengine.providers.llm") / "examples" / f"{model}.yaml"
    if packaged.is_file():
        return parse_rules(yaml.safe_load(packaged.read_text(encoding="utf-8")), source=f"examples/{model}.yaml",
                           variables=variables)
    searched.append("the packaged examples")
    raise LLMConfigError(f"no rule set {model!r}: looked for {model}.yaml in {', '.join(searched)} "
                         f"(set parameter.rules_dir or {RULES_DIR_ENV}, or give parameter.rules inline)")


def _load_file(path: Path, variables: Mapping[str, str]) -> RuleSet:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LLMConfigError(f"rule set {path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise LLMConfigError(f"rule set {path}: not valid YAML: {exc}") from None
    return parse_rules(data, source=str(path), variables=variables)
