"""The `${name}` template syntax: scanning strings into literal text and variable references.

`$${` writes a literal `${` (so `$${name}` renders as `${name}`). Names are made of letters,
digits, `_`, `.` and `-`; there are no defaults, no nesting and no expressions.
"""
from __future__ import annotations

from dataclasses import dataclass

from flowengine.flow.errors import TemplateSyntaxError

OPEN = "${"
ESCAPED_OPEN = "$${"
NAME_PUNCTUATION = frozenset("_.-")


@dataclass(frozen=True)
class Reference:
    """A `${name}` in a string; `start`/`end` are offsets of `$` and just past `}`."""

    name: str
    start: int
    end: int


Segment = str | Reference


def is_name_char(char: str) -> bool:
    return char.isalnum() or char in NAME_PUNCTUATION


def scan(text: str) -> tuple[list[Segment], list[TemplateSyntaxError]]:
    """Split `text` into segments; broken expressions stay literal text and are reported."""
    segments: list[Segment] = []
    errors: list[TemplateSyntaxError] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith(ESCAPED_OPEN, i):
            literal.append(OPEN)
            i += len(ESCAPED_OPEN)
            continue
        if not text.startswith(OPEN, i):
            literal.append(text[i])
            i += 1
            continue
        close = text.find("}", i + 2)
        if close < 0:
            errors.append(TemplateSyntaxError("unterminated '${' (missing '}')", i))
            literal.append(text[i:])
            break
        name = text[i + 2 : close]
        error = _name_error(name, i + 2)
        if error is not None:
            errors.append(error)
            literal.append(text[i : close + 1])
        else:
            if literal:
                segments.append("".join(literal))
                literal = []
            segments.append(Reference(name, i, close + 1))
        i = close + 1
    if literal:
        segments.append("".join(literal))
    return segments, errors


def _name_error(name: str, offset: int) -> TemplateSyntaxError | None:
    if not name.strip():
        return TemplateSyntaxError("empty variable name in '${}'", offset - 2)
    nested = name.find(OPEN)
    if nested >= 0:
        return TemplateSyntaxError("nested '${' is not supported", offset + nested)
    for pos, char in enumerate(name):
        if not is_name_char(char):
            return TemplateSyntaxError(
                f"bad character {char!r} in variable name '${{{name}}}'", offset + pos
            )
    return None


def parse(text: str) -> list[Segment]:
    """Segments of `text`; raises `TemplateSyntaxError` for the first broken expression."""
    segments, errors = scan(text)
    if errors:
        raise errors[0]
    return segments


def references(text: str) -> list[Reference]:
    """The well-formed `${name}` references in `text` (broken ones are skipped)."""
    return [s for s in scan(text)[0] if isinstance(s, Reference)]


def has_reference(text: str) -> bool:
    return any(isinstance(s, Reference) for s in scan(text)[0])


def exact_reference(text: str) -> Reference | None:
    """The reference if `text` is exactly one `${name}` and nothing else."""
    segments, errors = scan(text)
    if not errors and len(segments) == 1 and isinstance(segments[0], Reference):
        return segments[0]
    return None
