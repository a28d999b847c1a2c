"""Public entry points: load a flow (file, text or API data) into a checked `Flow`, or just check it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowengine.flow.ainames import AINames
from flowengine.flow.catalogue import ACTIONS
from flowengine.flow.checker import Report, check_actions, check_document
from flowengine.flow.errors import FlowSyntaxError, FlowValidationError
from flowengine.flow.model import Action, Flow
from flowengine.flow.problems import Problem
from flowengine.flow.reader import Format, read_file, read_text
from flowengine.flow.registry import ActionRegistry
from flowengine.flow.source import Document, SourceMap


@dataclass
class LoadedFlow:
    """A flow that passed every check, with the warnings found and where it came from."""

    flow: Flow
    document: Document
    warnings: list[Problem] = field(default_factory=list)


def _build(doc: Document, registry: ActionRegistry, ai_names: AINames | None = None) -> LoadedFlow:
    report = check_document(doc, registry, ai_names)
    if report.errors:
        raise FlowValidationError(report.errors)
    return LoadedFlow(Flow.model_validate(doc.data), doc, report.warnings)


def load_file(path: str | Path, registry: ActionRegistry = ACTIONS) -> LoadedFlow:
    """Read and check a YAML/JSON flow file. Raises `FlowSyntaxError` (unreadable, malformed)
    or `FlowValidationError` (breaks the flow rules), both listing every problem."""
    return _build(read_file(path), registry)


def load_text(
    text: str, *, file: str = "<flow>", fmt: Format | None = None, registry: ActionRegistry = ACTIONS
) -> LoadedFlow:
    """Like `load_file` for a text already in memory (`fmt` defaults to the file's extension)."""
    return _build(read_text(text, file=file, fmt=fmt), registry)


def load_data(
    data: Any, *, name: str = "<api>", registry: ActionRegistry = ACTIONS, ai_names: AINames | None = None
) -> LoadedFlow:
    """Check an already-decoded flow (an API body). Problems carry `path` (`actions[2].option.text`);
    their line/column is 1:1 since there is no source text. With `ai_names`, the AIs and teams it names must exist."""
    return _build(Document(name, data, SourceMap(name)), registry, ai_names)


def load_actions(
    data: Any,
    *,
    name: str = "<fetch>",
    known_ids: frozenset[str] = frozenset(),
    registry: ActionRegistry = ACTIONS,
) -> list[Action]:
    """Check a bare list of actions (a `fetch` response) and build them; `known_ids` are the ids
    of the actions already on the stacks, which the fetched ones may jump to."""
    doc = Document(name, data, SourceMap(name))
    report = check_actions(doc, registry, known_ids)
    if report.errors:
        raise FlowValidationError(report.errors)
    return [Action.model_validate(item) for item in data]


def check_file(path: str | Path, registry: ActionRegistry = ACTIONS, ai_names: AINames | None = None) -> Report:
    """Every problem of a flow file, syntax and rules alike; never raises for a bad file."""
    try:
        doc = read_file(path)
    except FlowSyntaxError as exc:
        return Report(errors=list(exc.problems))
    return check_document(doc, registry, ai_names)
