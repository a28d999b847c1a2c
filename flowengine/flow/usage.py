"""`${...}` checks of a document: unparsable expressions (errors) and variables never set (warnings)."""
from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flowengine.flow import templates
from flowengine.flow.problems import Location, Problem, Severity, format_path
from flowengine.flow.source import NodePath, SourceMap
from flowengine.flow.varnames import BUILTIN_NAMES, is_reserved

SkipPath = Callable[[NodePath], bool]


@dataclass
class VariableUsage:
    """Names a flow reads and writes, to warn about variables that are read but never set."""

    uses: list[tuple[str, Location, str]] = field(default_factory=list)
    sets: set[str] = field(default_factory=set)
    unknowable: list[str] = field(default_factory=list)
    """Why the set of written names cannot be known (e.g. 'fetch' may run any actions)."""

    def use(self, name: str, location: Location, path: str) -> None:
        self.uses.append((name, location, path))

    def warnings(self) -> list[Problem]:
        out: list[Problem] = []
        seen: set[str] = set()
        for name, location, path in sorted(self.uses, key=lambda u: (u[1].line, u[1].column)):
            if name in seen:
                continue
            seen.add(name)
            if is_reserved(name):
                if name not in BUILTIN_NAMES:
                    close = difflib.get_close_matches(name, sorted(BUILTIN_NAMES), n=1, cutoff=0.8)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    message = f"unknown built-in variable '{name}'{hint}: it expands to \"\""
                    out.append(Problem(location, message, Severity.WARNING, path))
            elif name not in self.sets and not self.unknowable:
                message = (
                    f"variable '{name}' is used but never set in this flow"
                    " (it expands to \"\" unless the activeflow is started with it)"
                )
                out.append(Problem(location, message, Severity.WARNING, path))
        return out


def check_templates(
    value: Any,
    path: NodePath,
    source: SourceMap,
    usage: VariableUsage,
    describe: Callable[[NodePath], str],
    skip: SkipPath | None = None,
) -> list[Problem]:
    """Errors for every broken `${...}` in the strings of `value`; records the names used."""
    problems: list[Problem] = []
    stack: list[tuple[NodePath, Any]] = [(path, value)]
    while stack:
        here, item = stack.pop()
        if skip is not None and skip(here):
            continue
        if isinstance(item, dict):
            stack.extend(((*here, k), v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend(((*here, i), v) for i, v in enumerate(item))
        elif isinstance(item, str) and "${" in item:
            segments, errors = templates.scan(item)
            for error in errors:
                where = source.offset(here, error.column)
                message = f"{error.message} in {describe(here)}"
                problems.append(Problem(where, message, path=format_path(here)))
            for segment in segments:
                if isinstance(segment, templates.Reference):
                    usage.use(segment.name, source.offset(here, segment.start), format_path(here))
    return problems
