"""Turning pydantic validation errors of action options into messages a flow author can act on."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic_core import ErrorDetails

from flowengine.flow.options.common import MISSING_OPTION, OptionModel
from flowengine.flow.problems import format_path
from flowengine.flow.templates import has_reference

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "a boolean (true or false)",
    "bool_parsing": "a boolean (true or false)",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


_YAML11_BOOLS = frozenset({"yes", "no", "on", "off", "y", "n"})
MISSING_HINTS = {
    "assistance_id": " (or the deprecated 'ai_id')",
    "loop_count": " (VoIPBIN's goto without it never jumps)",
}


def _alternatives(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


@dataclass(frozen=True)
class OptionIssue:
    """One problem in an action's options; `path` is relative to the `option` mapping."""

    path: tuple[str | int, ...]
    message: str
    at_key: bool = False
    """Point at the key (unknown and missing options) rather than the value."""


def describe(value: Any) -> str:
    """How a value is named in messages: `string 'abc'`, `integer 5`, `a list`..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string '{shown}'"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _real_path(data: Any, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The prefix of `loc` that exists in the data (pydantic adds union member tags to locs)."""
    path: list[str | int] = []
    for part in loc:
        in_dict = isinstance(data, dict) and isinstance(part, str) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if not (in_dict or in_list):
            break
        data = data[part]
        path.append(part)
    return tuple(path)


def _value_at(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


@cache
def _schema(model: type[OptionModel]) -> dict[str, Any]:
    return model.model_json_schema(by_alias=True)


def field_names(model: type[OptionModel], path: tuple[str | int, ...] = ()) -> list[str]:
    """Option names accepted at `path` inside `model` (for "did you mean")."""
    root = _schema(model)
    node: dict[str, Any] = root
    for part in path:
        node = _resolve(root, node)
        node = node.get("items", {}) if isinstance(part, int) else node.get("properties", {}).get(part, {})
    node = _resolve(root, node)
    return list(node.get("properties", {}))


def _resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    for _ in range(10):
        if "$ref" in node:
            node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in node:
            node = next((n for n in node["anyOf"] if n.get("type") != "null"), {})
        else:
            break
    return node


def translate(
    action_type: str, model: type[OptionModel], option: dict[str, Any], errors: list[ErrorDetails]
) -> list[OptionIssue]:
    """Messages for the errors of `model.model_validate(option, strict=True)`.

    Type and value errors on strings holding `${...}` are dropped: those values are only known
    after substitution, when the runner validates them again.
    """
    issues: dict[tuple[str | int, ...], OptionIssue] = {}
    expected: dict[tuple[str | int, ...], list[str]] = {}
    for err in errors:
        kind, loc = err["type"], tuple(err["loc"])
        if kind == "extra_forbidden":
            parent, name = loc[:-1], loc[-1]
            known = field_names(model, parent)
            close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            where = f"for action '{action_type}'" if not parent else f"in option '{format_path(parent)}'"
            issues[loc] = OptionIssue(loc, f"unknown option '{name}' {where}{hint}", at_key=True)
            continue
        if kind in ("missing", MISSING_OPTION):
            name = str(loc[-1]) if kind == "missing" else str(err.get("ctx", {}).get("name"))
            parent = loc[:-1] if kind == "missing" else loc
            if parent:
                message = f"option '{format_path(parent)}' is missing required field '{name}'"
            else:
                hint = MISSING_HINTS.get(name, "")
                message = f"action '{action_type}' is missing required option '{name}'{hint}"
            issues[(*parent, "#missing", name)] = OptionIssue(parent, message, at_key=not parent)
            continue
        path = _real_path(option, loc)
        value = _value_at(option, path)
        if isinstance(value, str) and has_reference(value):
            continue
        subject = f"option '{format_path(path)}' of action '{action_type}'"
        if kind in _EXPECTED or kind == "literal_error":
            want = _EXPECTED.get(kind) or f"one of {err.get('ctx', {}).get('expected', '')}"
            wants = expected.setdefault(path, [])
            if want not in wants:
                wants.append(want)
            message = f"{subject} must be {_alternatives(wants)}, got {describe(value)}"
            if kind == "bool_type" and isinstance(value, str) and value.lower() in _YAML11_BOOLS:
                message += " (write true or false)"
        elif kind == "value_error":
            reason = str(err.get("ctx", {}).get("error", err["msg"]))
            message = f"{subject} is invalid: {reason}"
        else:
            message = f"{subject} {_constraint(err)}, got {describe(value)}"
        issues[path] = OptionIssue(path, message)
    return list(issues.values())


def _constraint(err: ErrorDetails) -> str:
    ctx = err.get("ctx", {})
    kind = err["type"]
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters long"
    if kind == "string_pattern_mismatch":
        return f"must match the pattern {ctx.get('pattern')}"
    msg = err["msg"]
    return "is invalid: " + msg[:1].lower() + msg[1:]
