"""VoiceOS webhook `filter`: conditions on the event payload, `path == 'value'` / `path != 'value'` joined by `and`.

`path` is a dotted path into the payload (`data.role`, `conversation.agent_id`); values are quoted strings,
numbers, true, false or null. VoiceOS does not publish its filter grammar: this small one is flowengine's,
and anything else is refused when the agent is saved."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(==|!=)\s*('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[-\w.]+)\s*$")


class FilterError(ValueError):
    pass


Condition = tuple[str, str, Any]


def _value(text: str) -> Any:
    if text[0] in "'\"":
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        raise FilterError(f"{text!r} is not a quoted string, number, true, false or null") from None


def parse_filter(text: str) -> list[Condition]:
    conditions: list[Condition] = []
    for part in re.split(r"\s+and\s+", text.strip()):
        match = _CONDITION.match(part)
        if match is None:
            raise FilterError(f"{part.strip()!r} is not `path == value` or `path != value` (joined by `and`)")
        conditions.append((match.group(1), match.group(2), _value(match.group(3))))
    return conditions


def _lookup(payload: Mapping[str, Any], path: str) -> Any:
    value: Any = payload
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def matches(text: str | None, payload: Mapping[str, Any]) -> bool:
    if not text:
        return True
    for path, op, expected in parse_filter(text):
        equal = _lookup(payload, path) == expected
        if equal != (op == "=="):
            return False
    return True
