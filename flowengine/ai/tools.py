"""Tools an AI call offers its model (by the AI's `tool_names`) and what each one does."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flowengine.flow.errors import ExternalVariablesError
from flowengine.flow.external import sanitize_external
from flowengine.flow.variables import Variables
from flowengine.providers.llm.base import ToolCall, ToolSpec

SPECS: dict[str, ToolSpec] = {
    "stop_service": ToolSpec(
        "stop_service", "End this conversation; the call goes on with the next step of the flow."),
    "stop_flow": ToolSpec("stop_flow", "End this conversation and the whole call."),
    "set_variables": ToolSpec(
        "set_variables", "Save values in the call's flow variables (e.g. what the caller booked).",
        {"type": "object", "properties": {"variables": {
            "type": "object", "description": "name -> value", "additionalProperties": {"type": "string"}}},
         "required": ["variables"]}),
    "get_variables": ToolSpec("get_variables", "Read the call's flow variables."),
}
# VoIPBIN tools that exist but need parts of the engine not built yet (AI call features issue).
NOT_YET = frozenset({"connect_call", "create_call", "send_email", "stop_media", "get_aicall_messages",
                     "search_knowledge"})


class ToolConfigError(ValueError):
    """`tool_names` names a tool this engine does not offer."""


def tools_for(tool_names: list[str]) -> list[ToolSpec]:
    if tool_names == ["all"]:
        return list(SPECS.values())
    problems = []
    for name in tool_names:
        if name in NOT_YET:
            problems.append(f"{name!r} is not available yet in this engine")
        elif name not in SPECS:
            problems.append(f"{name!r} is not a tool")
    if problems:
        raise ToolConfigError(f"tool_names: {'; '.join(problems)}; available: {', '.join(sorted(SPECS))} or ['all']")
    return [SPECS[name] for name in tool_names]


def _arguments(call: ToolCall) -> Mapping[str, Any]:
    try:
        data = json.loads(call.arguments or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def run_variable_tool(call: ToolCall, variables: Variables) -> str:
    """set_variables / get_variables against the activeflow's variables."""
    if call.name == "get_variables":
        public = {k: v for k, v in variables.snapshot().items() if not k.startswith("voipbin.")}
        return json.dumps({"variables": public})
    values = _arguments(call).get("variables")
    if not isinstance(values, dict):
        return json.dumps({"error": "set_variables needs {\"variables\": {name: value}}"})
    try:
        checked = sanitize_external(values)
    except ExternalVariablesError as exc:
        return json.dumps({"error": str(exc)})
    variables.update(checked)
    return json.dumps({"result": "saved", "variables": sorted(checked)})
