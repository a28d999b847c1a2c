"""Checking a flow document against the flow rules; every problem is reported at once."""
from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_args

from pydantic import ValidationError

from flowengine.flow.ainames import AINames, NamedAgent, named_agent
from flowengine.flow.catalogue import ACTIONS
from flowengine.flow.ids import FINISH_ID, RESERVED_IDS, is_unset
from flowengine.flow.model import IGNORED_ACTION_FIELDS, IGNORED_FLOW_FIELDS, FlowType
from flowengine.flow.option_errors import describe, translate
from flowengine.flow.problems import (
    Location,
    Problem,
    Severity,
    format_path,
    sorted_problems,
)
from flowengine.flow.registry import ActionRegistry, ActionSpec
from flowengine.flow.source import Document, NodePath
from flowengine.flow.templates import exact_reference, has_reference
from flowengine.flow.usage import SkipPath, VariableUsage, check_templates
from flowengine.flow.varnames import CONTACT_CASE_ID, VARIABLE_SETTERS, is_reserved, read_only_write

FLOW_FIELDS = ("id", "name", "detail", "type", "variables", "on_complete_flow_id", "actions")
ACTION_FIELDS = ("id", "next_id", "type", "option")
FLOW_TYPES: tuple[str, ...] = get_args(FlowType)
DYNAMIC_SETTERS = {
    "fetch": "fetched actions",
    "fetch_flow": "another flow's actions",
    "ai_talk": "the AI's set_variables tool",
    "ai_task": "the AI's set_variables tool",
}
"""Action types that may set variables this document does not show."""


@dataclass
class Report:
    """Result of checking one document: errors make it unusable, warnings do not."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def problems(self) -> list[Problem]:
        return sorted_problems(self.errors + self.warnings)


@dataclass
class _Scope:
    """The actions of one flow (or of the inline `actions` of a `call`)."""

    ids: dict[str, NodePath] = field(default_factory=dict)
    refs: list[tuple[NodePath, str, str]] = field(default_factory=list)
    outer: frozenset[str] = frozenset()


class _Checker:
    def __init__(self, doc: Document, registry: ActionRegistry, ai_names: AINames | None = None) -> None:
        self.src = doc.source
        self.registry = registry
        self.ai_names = ai_names
        self.report = Report()
        self.usage = VariableUsage()

    def error(self, location: Location, path: NodePath, message: str) -> None:
        self.report.errors.append(Problem(location, message, path=format_path(path)))

    def warn(self, location: Location, path: NodePath, message: str) -> None:
        self.report.warnings.append(Problem(location, message, Severity.WARNING, format_path(path)))

    def type_error(self, path: NodePath, what: str, want: str, value: Any) -> None:
        hint = " (quote it)" if want == "a string" and isinstance(value, int | float | bool) else ""
        self.error(self.src.value(path), path, f"{what} must be {want}, got {describe(value)}{hint}")

    # -- document ------------------------------------------------------------------------

    def document(self, data: Any) -> None:
        if not isinstance(data, dict):
            message = f"a flow document must be a mapping with 'name' and 'actions', got {describe(data)}"
            self.error(self.src.value(()), (), message)
            return
        self.unknown_fields(data, (), FLOW_FIELDS, IGNORED_FLOW_FIELDS, "flow")
        for name in ("name", "actions"):
            if name not in data:
                self.error(self.src.value(()), (), f"flow is missing required field '{name}'")
        for name in ("id", "name", "detail", "on_complete_flow_id"):
            value = data.get(name)
            if (value is not None or (name == "name" and name in data)) and not isinstance(value, str):
                self.type_error((name,), f"field '{name}'", "a string", value)
        flow_type = data.get("type")
        if flow_type is not None and flow_type not in FLOW_TYPES:
            choices = ", ".join(f"'{t}'" for t in FLOW_TYPES if t)
            self.error(self.src.value(("type",)), ("type",), f"flow type must be one of {choices}, got {describe(flow_type)}")
        self.flow_variables(data.get("variables"))
        if "actions" in data:
            self.scope(data["actions"], ("actions",), _Scope())

    def unknown_fields(
        self, data: dict[str, Any], path: NodePath, known: tuple[str, ...], ignored: frozenset[str], what: str
    ) -> None:
        for key in data:
            if key in known or key in ignored:
                continue
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            self.error(self.src.key((*path, key)), (*path, key), f"unknown field '{key}' in {what}{hint}")

    def flow_variables(self, variables: Any) -> None:
        path: NodePath = ("variables",)
        if variables is None:
            return
        if not isinstance(variables, dict):
            self.type_error(path, "field 'variables'", "a mapping", variables)
            return
        for key, value in variables.items():
            if is_reserved(key):
                message = f"variable '{key}' is reserved: names starting with 'voipbin.' are set by the engine"
                self.error(self.src.key((*path, key)), (*path, key), message)
            self.usage.sets.add(key)
            self.templates(value, (*path, key), lambda p: f"variable '{format_path(p[1:])}'")

    def templates(
        self, value: Any, path: NodePath, what: Callable[[NodePath], str], skip: SkipPath | None = None
    ) -> None:
        self.report.errors.extend(check_templates(value, path, self.src, self.usage, what, skip))

    # -- actions -------------------------------------------------------------------------

    def scope(self, actions: Any, path: NodePath, scope: _Scope) -> None:
        if not isinstance(actions, list):
            what = f"field '{path[-1]}'" if path else "the document"
            self.type_error(path, what, "a list of actions", actions)
            return
        for index, action in enumerate(actions):
            self.action(action, (*path, index), scope)
        for ref_path, target, what in scope.refs:
            if target in scope.ids or target in scope.outer or target == FINISH_ID:
                continue
            close = difflib.get_close_matches(target, list(scope.ids), n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            self.error(self.src.value(ref_path), ref_path, f"{what} refers to unknown action id '{target}'{hint}")

    def action(self, action: Any, path: NodePath, scope: _Scope) -> None:
        if not isinstance(action, dict):
            self.error(self.src.value(path), path, f"an action must be a mapping with a 'type', got {describe(action)}")
            return
        self.unknown_fields(action, path, ACTION_FIELDS, IGNORED_ACTION_FIELDS, "action")
        self.action_id(action.get("id"), (*path, "id"), scope)
        next_id = action.get("next_id")
        if not is_unset(next_id):
            self.reference(next_id, (*path, "next_id"), "next_id", scope)
        spec = self.action_type(action, path)
        option = action.get("option")
        option_path = (*path, "option")
        if option is not None and not isinstance(option, dict):
            self.type_error(option_path, "field 'option'", "a mapping", option)
            return
        label = f"action '{spec.name}'" if spec else "action"
        # the inline actions of `call` are a flow of their own, checked by `scope`
        skip = (lambda p: p == (*option_path, "actions")) if spec and spec.name == "call" else None
        self.templates(option or {}, option_path, lambda p: f"option '{format_path(p[len(option_path):])}' of {label}", skip)
        if spec is not None:
            self.options(spec, option or {}, path, scope)

    def action_id(self, value: Any, path: NodePath, scope: _Scope) -> None:
        if is_unset(value):
            return
        if not isinstance(value, str):
            self.type_error(path, "action id", "a string", value)
            return
        if value in RESERVED_IDS:
            self.error(self.src.value(path), path, f"action id '{value}' is reserved ({RESERVED_IDS[value]})")
        elif value in scope.ids:
            first = self.src.value(scope.ids[value])
            message = f"duplicate action id '{value}' (first used at line {first.line}, column {first.column})"
            self.error(self.src.value(path), path, message)
        else:
            scope.ids[value] = path

    def reference(self, value: Any, path: NodePath, what: str, scope: _Scope) -> None:
        if not isinstance(value, str):
            self.type_error(path, what, "a string", value)
        elif value in RESERVED_IDS and value != FINISH_ID:
            message = f"{what} cannot refer to the reserved id '{value}' ({RESERVED_IDS[value]})"
            self.error(self.src.value(path), path, message)
        elif not has_reference(value):
            scope.refs.append((path, value, what))

    def action_type(self, action: dict[str, Any], path: NodePath) -> ActionSpec | None:
        name = action.get("type")
        type_path = (*path, "type")
        if name is None:
            self.error(self.src.value(path), path, "action is missing required field 'type'")
            return None
        if not isinstance(name, str):
            self.type_error(type_path, "action type", "a string", name)
            return None
        if name not in self.registry:
            hint = self.registry.suggest(name)
            suffix = f" (did you mean '{hint}'?)" if hint else ""
            self.error(self.src.value(type_path), type_path, f"unknown action type '{name}'{suffix}")
            return None
        spec = self.registry.get(name)
        if spec.unsupported is not None:
            message = f"action type '{name}' is not supported by flowengine: {spec.unsupported}"
            self.error(self.src.value(type_path), type_path, message)
        return spec

    def options(self, spec: ActionSpec, option: dict[str, Any], path: NodePath, scope: _Scope) -> None:
        option_path = (*path, "option")
        try:
            parsed = spec.parse_options(option, strict=True)
        except ValidationError as exc:
            for issue in translate(spec.name, spec.options, option, exc.errors()):
                where = (*option_path, *issue.path)
                if issue.at_key and issue.path:
                    location = self.src.key(where)
                elif issue.at_key:
                    # a missing option: the action lacks it, so point at the action (its first line)
                    location = self.src.value(path)
                else:
                    location = self.src.value(where)
                self.error(location, where, issue.message)
        else:
            self.agent(spec, named_agent(parsed, option, option_path))
        for name in spec.target_options:
            value = option.get(name)
            if isinstance(value, str) and value:
                self.reference(value, (*option_path, name), f"option '{name}' of action '{spec.name}'", scope)
            elif isinstance(value, dict):
                for key, target in value.items():
                    if isinstance(target, str):
                        what = f"option '{name}.{key}' of action '{spec.name}'"
                        self.reference(target, (*option_path, name, key), what, scope)
        self.action_usage(spec, option, path)
        nested = option.get("actions")
        if spec.name == "call" and isinstance(nested, list):
            self.scope(nested, (*option_path, "actions"), _Scope())

    def agent(self, spec: ActionSpec, named: NamedAgent | None) -> None:
        """An AI or team the owner of the flow does not have (when the checker was told what they have)."""
        if named is None or self.ai_names is None:
            return
        reason = self.ai_names.missing(named.assistance_type, named.assistance_id)
        if reason is not None:
            field = named.path[-1]
            self.error(self.src.value(named.path), named.path, f"option '{field}' of action '{spec.name}': {reason}")

    def read_only_writes(self, spec: ActionSpec, option: dict[str, Any], path: NodePath) -> None:
        """A warning for a write to one of the engine's `voipbin.*` names (the runner ignores it)."""
        name_option = VARIABLE_SETTERS.get(spec.name)
        name = option.get(name_option) if name_option else None
        if isinstance(name, str) and (message := read_only_write(spec.name, name)):
            where = (*path, "option", name_option or "")
            self.warn(self.src.value(where), where, message)

    def action_usage(self, spec: ActionSpec, option: dict[str, Any], path: NodePath) -> None:
        type_loc = self.src.value((*path, "type"))
        self.read_only_writes(spec, option, path)
        if spec.name in DYNAMIC_SETTERS:
            self.usage.unknowable.append(DYNAMIC_SETTERS[spec.name])
        if spec.name == "case_create":
            self.usage.sets.add(CONTACT_CASE_ID)
        key = option.get("key")
        if spec.name == "variable_set" and isinstance(key, str):
            if has_reference(key):
                self.usage.unknowable.append("variable_set with a computed key")
            else:
                self.usage.sets.add(key.strip())
        variable = option.get("variable")
        if spec.name in ("branch", "condition_variable") and isinstance(variable, str) and variable:
            var_path = (*path, "option", "variable")
            if "${" not in variable:  # a bare name, read as a variable name
                self.usage.use(variable, self.src.value(var_path), format_path(var_path))
        if spec.name == "branch":
            if isinstance(variable, str) and "${" in variable and exact_reference(variable) is None:
                self.warn(type_loc, path, "branch 'variable' is a variable name, not a text with '${...}'")
            if not option.get("default_target_id"):
                self.warn(type_loc, path, "branch has no 'default_target_id': when no value matches, the activeflow stops")
        if spec.target_options == ("false_target_id",) and not option.get("false_target_id"):
            self.warn(type_loc, path, f"{spec.name} has no 'false_target_id': when it is false, the activeflow stops")
        if spec.name == "digits_receive" and not option.get("duration"):
            self.warn(type_loc, path, "digits_receive has no 'duration': it stops waiting at once")


def check_document(doc: Document, registry: ActionRegistry = ACTIONS, ai_names: AINames | None = None) -> Report:
    """Check a parsed document; returns every error and warning (never raises for bad content). With `ai_names`
    the AIs and teams the flow names must be among them; without, they are not checked (not knowable)."""
    checker = _Checker(doc, registry, ai_names)
    checker.document(doc.data)
    checker.report.warnings.extend(checker.usage.warnings())
    checker.report.errors = sorted_problems(checker.report.errors)
    checker.report.warnings = sorted_problems(checker.report.warnings)
    return checker.report


def check_actions(
    doc: Document, registry: ActionRegistry = ACTIONS, known_ids: frozenset[str] = frozenset()
) -> Report:
    """Check a document that is a bare list of actions (a `fetch` response); ids in `known_ids`
    (the actions of the stacks below) are valid jump targets."""
    checker = _Checker(doc, registry)
    checker.scope(doc.data, (), _Scope(outer=known_ids))
    checker.report.errors = sorted_problems(checker.report.errors)
    return checker.report
