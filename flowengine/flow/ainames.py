"""The AIs and teams a flow may name: the port the flow rules ask (`AINames`), and the names a flow asks for.

The flow floor knows no AIs; whoever checks a flow (`flowengine validate`, the API's save) fills the port with
what the flow's owner can use, and `ai_talk`/`ai_task` naming anything else is then an error."""
from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError

from flowengine.flow.registry import ActionRegistry
from flowengine.flow.source import NodePath
from flowengine.flow.templates import has_reference


class AINames(Protocol):
    """What one customer's flows may name."""

    def missing(self, assistance_type: str, assistance_id: str) -> str | None:
        """Why the AI (`assistance_type` "ai") or team ("team") of that id or name cannot be used, or None."""
        ...


@runtime_checkable
class NamesAgent(Protocol):
    """Options of an action that runs an AI or a team (ai_talk, ai_task)."""

    @property
    def resolved_type(self) -> str: ...

    @property
    def resolved_id(self) -> str: ...


@dataclass(frozen=True)
class NamedAgent:
    """An AI or team a flow names, and where (`path` is the option holding the id)."""

    path: NodePath
    assistance_type: str
    assistance_id: str


def named_agent(options: object, option: dict[str, Any], option_path: NodePath) -> NamedAgent | None:
    """The AI or team parsed options name, if they name one the check can know (no `${...}`)."""
    if not isinstance(options, NamesAgent) or not options.resolved_id or has_reference(options.resolved_id):
        return None
    field = "assistance_id" if option.get("assistance_id") else "ai_id"
    return NamedAgent((*option_path, field), options.resolved_type, options.resolved_id)


def named_agents(actions: Any, registry: ActionRegistry, path: NodePath = ("actions",)) -> Iterator[NamedAgent]:
    """Every AI and team a list of actions names (inline `call` actions too); actions that break the rules are
    left to the checker."""
    if not isinstance(actions, list):
        return
    for index, action in enumerate(actions):
        if not isinstance(action, dict) or not isinstance(action.get("option"), dict):
            continue
        name, option = action.get("type"), action["option"]
        option_path = (*path, index, "option")
        if name == "call":
            yield from named_agents(option.get("actions"), registry, (*option_path, "actions"))
        if not isinstance(name, str) or name not in registry:
            continue
        try:
            options = registry.get(name).parse_options(option, strict=True)
        except ValidationError:
            continue
        found = named_agent(options, option, option_path)
        if found is not None:
            yield found


@dataclass(frozen=True)
class KnownAINames:
    """`AINames` over sets of ids and names known beforehand."""

    ais: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    where: str = ""
    """Where the AIs were looked for, for the message (e.g. "in flows/ais/")."""
    teams_where: str = ""
    """Where the teams were."""
    refused: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """(type, id or name) -> why one that exists cannot be used (its file has errors)."""

    def missing(self, assistance_type: str, assistance_id: str) -> str | None:
        kind = "team" if assistance_type == "team" else "ai"
        known, what = (self.teams, "AI team") if kind == "team" else (self.ais, "AI")
        if assistance_id in known:
            return None
        if (kind, assistance_id) in self.refused:
            return f"{what} '{assistance_id}' cannot be used: {self.refused[kind, assistance_id]}"
        where = self.teams_where if kind == "team" else self.where
        where = f" {where}" if where else ""
        close = difflib.get_close_matches(assistance_id, sorted(known), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"{what} '{assistance_id}' does not exist{where}{hint}"
