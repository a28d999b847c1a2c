"""The variable tools (set_variables, get_variables); the tool catalogue itself is in `flowengine.ai.tools`."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flowengine.ai.tools.catalog import SPECS, ToolConfigError, tools_for, validate_tool_names
from flowengine.flow.errors import ExternalVariablesError
from flowengine.flow.external import sanitize_external
from flowengine.flow.variables import Variables
from flowengine.providers.llm.base import ToolCall

__all__ = ["SPECS", "ToolConfigError", "run_variable_tool", "tools_for", "validate_tool_names"]

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
