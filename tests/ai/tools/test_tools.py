"""AI tools: which ones an AI's tool_names offer, and the variable tools on an activeflow's variables."""
from __future__ import annotations

import json

import pytest

from flowengine.ai.tools.variables import ToolConfigError, run_variable_tool, tools_for, validate_tool_names
from flowengine.flow.variables import Variables
from flowengine.providers.llm.base import ToolCall


def test_tool_names_select_tools_and_refuse_the_rest() -> None:
    assert [t.name for t in tools_for([])] == []
    assert {t.name for t in tools_for(["all"])} == {
        "connect_call", "create_call", "send_email", "stop_media", "stop_service", "stop_flow", "set_variables",
        "get_variables", "get_aicall_messages"}
    assert [t.name for t in tools_for(["stop_service"])] == ["stop_service"]
    with pytest.raises(ToolConfigError, match=r"'send_message' is not available: SMS.*'fly' is not a tool"):
        tools_for(["connect_call", "send_message", "fly"])
    with pytest.raises(ValueError, match="'all' must be alone"):
        validate_tool_names(["all", "stop_flow"])
    assert all("run_llm" in t.parameters["properties"] for t in tools_for(["all"]))


def test_set_and_get_variables() -> None:
    variables = Variables({"voipbin.call.id": "c1", "x": "1"})
    out = run_variable_tool(ToolCall("1", "set_variables", '{"variables": {"day": "Tuesday"}}'), variables)
    assert json.loads(out) == {"result": "saved", "variables": ["day"]} and variables["day"] == "Tuesday"
    spoof = run_variable_tool(ToolCall("2", "set_variables", '{"variables": {"voipbin.call.id": "x"}}'), variables)
    assert "error" in json.loads(spoof) and variables["voipbin.call.id"] == "c1"
    got = json.loads(run_variable_tool(ToolCall("3", "get_variables", "{}"), variables))
    assert got == {"variables": {"x": "1", "day": "Tuesday"}}
