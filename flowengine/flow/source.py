"""Source maps: the line and column of every key and value of a loaded document."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flowengine.flow.problems import Location

NodePath = tuple[str | int, ...]


@dataclass(frozen=True)
class Span:
    """Where a node starts (1-based line and column).

    `verbatim` is true for a string scalar written on one line whose characters in the file
    are exactly its value (no escapes, no folding): then offset `i` of the value is at column
    `column + quote + i`, which lets `${...}` errors point at the exact character.
    """

    line: int
    column: int
    verbatim: bool = False
    quote: int = 0


@dataclass
class SourceMap:
    """Spans of the nodes of one document, by path (`("actions", 0, "option", "text")`)."""

    file: str
    values: dict[NodePath, Span] = field(default_factory=dict)
    keys: dict[NodePath, Span] = field(default_factory=dict)

    def _loc(self, span: Span) -> Location:
        return Location(self.file, span.line, span.column)

    def value(self, path: NodePath) -> Location:
        """Location of the value at `path`, or of its nearest known ancestor."""
        for end in range(len(path), -1, -1):
            span = self.values.get(path[:end])
            if span is not None:
                return self._loc(span)
        return Location(self.file)

    def key(self, path: NodePath) -> Location:
        """Location of the key naming `path` in its mapping (falls back to the value)."""
        span = self.keys.get(path)
        return self._loc(span) if span is not None else self.value(path)

    def member(self, path: NodePath) -> Location:
        """The key if `path` is a mapping member, else the value (for list items)."""
        return self.key(path) if path in self.keys else self.value(path)

    def offset(self, path: NodePath, offset: int) -> Location:
        """Location of character `offset` of the string at `path` (the string start if unknown)."""
        span = self.values.get(path)
        if span is None or not span.verbatim:
            return self.value(path)
        return Location(self.file, span.line, span.column + span.quote + offset)


@dataclass
class Document:
    """A parsed YAML/JSON document: plain Python data plus the source map of its nodes."""

    file: str
    data: Any
    source: SourceMap
