"""YAML reader that keeps the line/column of every node (PyYAML composer, YAML 1.2 core scalars).

Why not `yaml.safe_load`: it forgets positions, silently keeps the last of duplicate keys and
resolves YAML 1.1 scalars (`yes`/`no`/`on` are booleans, `010` is octal, `1:20` is 80,
`2024-01-01` is a date), which would turn `anonymous: yes` into `true`. Here plain scalars follow
the YAML 1.2 core schema and mapping keys are always strings, as in JSON.
"""
from __future__ import annotations

import math
import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from flowengine.flow.errors import FlowSyntaxError
from flowengine.flow.problems import Location, Problem
from flowengine.flow.source import Document, NodePath, SourceMap, Span

_TAG = "tag:yaml.org,2002:"
NULL, BOOL, INT, FLOAT, STR, MAP, SEQ = (
    _TAG + t for t in ("null", "bool", "int", "float", "str", "map", "seq")
)


class _CoreResolver(BaseResolver):
    """Implicit tags of the YAML 1.2 core schema."""


_CoreResolver.add_implicit_resolver(NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_CoreResolver.add_implicit_resolver(
    BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CoreResolver.add_implicit_resolver(
    INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_CoreResolver.add_implicit_resolver(
    FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)


class _NodeLoader(Reader, Scanner, Parser, Composer, _CoreResolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _CoreResolver.__init__(self)


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


def _int(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if digits.startswith(("0o", "0x")):
        return sign * int(digits, 0)
    return sign * int(digits, 10)


def _float(text: str) -> float:
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(text)


class _Builder:
    """Turns composed nodes into plain data, recording spans and collecting problems."""

    def __init__(self, file: str, text: str) -> None:
        self.text = text
        self.source = SourceMap(file)
        self.problems: list[Problem] = []
        self._active: set[int] = set()

    def _span(self, node: Node) -> Span:
        mark = node.start_mark
        span = Span(mark.line + 1, mark.column + 1)
        if isinstance(node, ScalarNode) and node.tag == STR:
            raw = self.text[mark.index : node.end_mark.index]
            if "\n" not in raw:
                if node.style is None and raw == node.value:
                    span = Span(span.line, span.column, verbatim=True)
                elif node.style in ("'", '"') and raw[1:-1] == node.value:
                    span = Span(span.line, span.column, verbatim=True, quote=1)
        return span

    def _problem(self, node: Node, message: str) -> None:
        mark = node.start_mark
        self.problems.append(Problem(Location(self.source.file, mark.line + 1, mark.column + 1), message))

    def build(self, node: Node, path: NodePath) -> Any:
        self.source.values[path] = self._span(node)
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if id(node) in self._active:
            self._problem(node, "recursive YAML alias")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode) and node.tag == SEQ:
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode) and node.tag == MAP:
                return self._mapping(node, path)
            self._problem(node, f"unsupported YAML tag '{_short(node.tag)}'")
            return None
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: ScalarNode) -> Any:
        value: str = node.value
        try:
            if node.tag == STR:
                return value
            if node.tag == NULL:
                return None
            if node.tag == BOOL:
                return value.lower() == "true"
            if node.tag == INT:
                return _int(value)
            if node.tag == FLOAT:
                return _float(value)
        except ValueError:
            self._problem(node, f"'{value}' is not a valid {node.tag.removeprefix(_TAG)}")
            return None
        self._problem(node, f"unsupported YAML tag '{_short(node.tag)}'")
        return None

    def _mapping(self, node: MappingNode, path: NodePath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_seen: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self._problem(key_node, "mapping keys must be plain strings")
                continue
            key = key_node.value
            if key in first_seen:
                first = first_seen[key].start_mark
                self._problem(
                    key_node,
                    f"duplicate key '{key}' (first defined at line {first.line + 1},"
                    f" column {first.column + 1})",
                )
                continue
            first_seen[key] = key_node
            child = (*path, key)
            self.source.keys[child] = self._span(key_node)
            out[key] = self.build(value_node, child)
        return out


def read_yaml(text: str, file: str) -> Document:
    """Parse one YAML (or JSON) document; raises `FlowSyntaxError` with every problem found."""
    text = text.removeprefix("\ufeff")
    try:
        root = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        detail = exc.problem or "invalid YAML"
        if exc.context:
            started = exc.context_mark
            where = ""
            if started is not None and started is not mark:
                where = f" started at line {started.line + 1}, column {started.column + 1}"
            detail += f" ({exc.context}{where})"
        raise FlowSyntaxError([Problem(Location(file, line, col), f"YAML syntax error: {detail}")]) from None
    except yaml.reader.ReaderError as exc:
        line, col = _line_col(text, exc.position)
        raise FlowSyntaxError([Problem(Location(file, line, col), f"YAML syntax error: {exc.reason}")]) from None
    except RecursionError:
        raise FlowSyntaxError([Problem(Location(file), "document is nested too deeply")]) from None
    if root is None:
        return Document(file, None, SourceMap(file))
    builder = _Builder(file, text)
    try:
        data = builder.build(root, ())
    except RecursionError:
        raise FlowSyntaxError([Problem(Location(file), "document is nested too deeply")]) from None
    if builder.problems:
        raise FlowSyntaxError(builder.problems)
    return Document(file, data, builder.source)


def _compose(text: str) -> Node | None:
    loader = _NodeLoader(text)  # the reader rejects unprintable characters here
    try:
        node: Node | None = loader.get_single_node()
        return node
    finally:
        loader.dispose()


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1
