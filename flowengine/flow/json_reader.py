"""JSON reader that keeps the line/column of every node and reports syntax errors as file:line:col.

A small recursive-descent parser on top of the standard library's string scanner: the `json`
module forgets positions and keeps the last of duplicate keys, both of which we need.
"""
from __future__ import annotations

import json
import json.decoder
import re
from collections.abc import Callable
from typing import Any

from flowengine.flow.errors import FlowSyntaxError
from flowengine.flow.problems import Location, Problem
from flowengine.flow.source import Document, NodePath, SourceMap, Span

# The C-accelerated string scanner of the json module (not in typeshed's stubs).
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}


class _Syntax(Exception):
    def __init__(self, message: str, index: int) -> None:
        self.message = message
        self.index = index


class _Parser:
    def __init__(self, file: str, text: str) -> None:
        self.text = text
        self.source = SourceMap(file)
        self.problems: list[Problem] = []

    def location(self, index: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, index) + 1
        return line, index - (self.text.rfind("\n", 0, index) + 1) + 1

    def _skip(self, i: int) -> int:
        match = _WHITESPACE.match(self.text, i)
        assert match is not None
        return match.end()

    def _span(self, start: int, end: int, value: Any) -> Span:
        line, col = self.location(start)
        verbatim = isinstance(value, str) and self.text[start + 1 : end - 1] == value
        return Span(line, col, verbatim=verbatim, quote=1 if verbatim else 0)

    def value(self, i: int, path: NodePath) -> tuple[Any, int]:
        i = self._skip(i)
        char = self.text[i : i + 1]
        if char == "{":
            self.source.values[path] = self._span(i, i, None)
            return self._object(i + 1, path)
        if char == "[":
            self.source.values[path] = self._span(i, i, None)
            return self._array(i + 1, path)
        if char == '"':
            value, end = self._string(i)
        else:
            value, end = self._scalar(i)
        self.source.values[path] = self._span(i, end, value)
        return value, end

    def _string(self, i: int) -> tuple[str, int]:
        try:
            return _scanstring(self.text, i + 1, True)
        except json.JSONDecodeError as exc:
            message = exc.msg.removesuffix(" at").removesuffix(" starting")
            raise _Syntax(message[:1].lower() + message[1:], exc.pos) from None

    def _scalar(self, i: int) -> tuple[Any, int]:
        for word, literal in _LITERALS.items():
            if self.text.startswith(word, i):
                return literal, i + len(word)
        match = _NUMBER.match(self.text, i)
        if match is None:
            raise _Syntax("expecting a value", i)
        text = match.group()
        number: int | float = float(text) if match.group(1) or match.group(2) else int(text)
        return number, match.end()

    def _object(self, i: int, path: NodePath) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        first: dict[str, int] = {}
        i = self._skip(i)
        if self.text.startswith("}", i):
            return out, i + 1
        while True:
            i = self._skip(i)
            if not self.text.startswith('"', i):
                raise _Syntax("expecting a property name enclosed in double quotes", i)
            key_start = i
            key, i = self._string(i)
            i = self._skip(i)
            if not self.text.startswith(":", i):
                raise _Syntax("expecting ':' delimiter", i)
            child = (*path, key)
            if key in first:
                line, col = self.location(first[key])
                at = Location(self.source.file, *self.location(key_start))
                message = f"duplicate key '{key}' (first defined at line {line}, column {col})"
                self.problems.append(Problem(at, message))
                _, i = _Parser(self.source.file, self.text).value(i + 1, child)
            else:
                first[key] = key_start
                self.source.keys[child] = self._span(key_start, i, key)
                out[key], i = self.value(i + 1, child)
            i = self._skip(i)
            if self.text.startswith("}", i):
                return out, i + 1
            if not self.text.startswith(",", i):
                raise _Syntax("expecting ',' delimiter or '}'", i)
            i += 1

    def _array(self, i: int, path: NodePath) -> tuple[list[Any], int]:
        out: list[Any] = []
        i = self._skip(i)
        if self.text.startswith("]", i):
            return out, i + 1
        while True:
            item, i = self.value(i, (*path, len(out)))
            out.append(item)
            i = self._skip(i)
            if self.text.startswith("]", i):
                return out, i + 1
            if not self.text.startswith(",", i):
                raise _Syntax("expecting ',' delimiter or ']'", i)
            i += 1


def read_json(text: str, file: str) -> Document:
    """Parse one JSON document; raises `FlowSyntaxError` with file:line:col of the problem."""
    text = text.removeprefix("\ufeff")
    parser = _Parser(file, text)
    try:
        data, end = parser.value(0, ())
        end = parser._skip(end)
        if end != len(text):
            raise _Syntax("extra data after the document", end)
    except _Syntax as exc:
        at = Location(file, *parser.location(exc.index))
        raise FlowSyntaxError([Problem(at, f"JSON syntax error: {exc.message}")]) from None
    except RecursionError:
        raise FlowSyntaxError([Problem(Location(file), "document is nested too deeply")]) from None
    if parser.problems:
        raise FlowSyntaxError(parser.problems)
    return Document(file, data, parser.source)
