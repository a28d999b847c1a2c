"""The VoIPBIN tools (reference 4.7) an AI may name in `tool_names`: specs, run_llm defaults, validation."""
from __future__ import annotations

from typing import Any

from flowengine.providers.llm.base import ToolSpec

_RUN_LLM = {"type": "boolean", "description": "Answer the caller again after this tool's result."}
_ADDRESS = {"type": "object", "properties": {
    "type": {"type": "string", "enum": ["agent", "conference", "extension", "line", "sip", "tel", "email"]},
    "target": {"type": "string"}, "target_name": {"type": "string"}}, "required": ["target"]}


def _params(properties: dict[str, Any] | None = None, required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": {**(properties or {}), "run_llm": _RUN_LLM}, "required": list(required)}


SPECS: dict[str, ToolSpec] = {
    "connect_call": ToolSpec(
        "connect_call", "End this conversation and connect the caller to a person or number (transfer).",
        _params({"source": _ADDRESS, "destinations": {"type": "array", "items": _ADDRESS, "minItems": 1}},
                ("destinations",))),
    "create_call": ToolSpec(
        "create_call", "Place a separate new call to destinations that runs a flow (by flow_id) or actions; "
        "this conversation goes on.",
        _params({"flow_id": {"type": "string"}, "actions": {"type": "array", "items": {"type": "object"}},
                 "source": _ADDRESS, "destinations": {"type": "array", "items": _ADDRESS, "minItems": 1},
                 "anonymous": {"type": "string", "enum": ["", "yes", "no", "auto"]},
                 "variables": {"type": "object"}}, ("destinations",))),
    "send_email": ToolSpec(
        "send_email", "Send an email.",
        _params({"destinations": {"type": "array", "items": _ADDRESS, "minItems": 1},
                 "subject": {"type": "string"}, "content": {"type": "string"}},
                ("destinations", "subject", "content"))),
    "stop_media": ToolSpec("stop_media", "Stop what is being played to the caller right now.", _params()),
    "stop_service": ToolSpec(
        "stop_service", "End this conversation; the call goes on with the next step of the flow.", _params()),
    "stop_flow": ToolSpec("stop_flow", "End this conversation and the whole call.", _params()),
    "set_variables": ToolSpec(
        "set_variables", "Save values in the call's flow variables (e.g. what the caller booked).",
        _params({"variables": {"type": "object", "description": "name -> value",
                               "additionalProperties": {"type": "string"}}}, ("variables",))),
    "get_variables": ToolSpec("get_variables", "Read the call's flow variables.", _params()),
    "get_aicall_messages": ToolSpec(
        "get_aicall_messages", "Read the transcript of an AI call (this one when aicall_id is empty).",
        _params({"aicall_id": {"type": "string"}})),
}
# run_llm when the model does not pass it (reference 4.7, in brackets there)
RUN_LLM_DEFAULT: dict[str, bool] = {"create_call": True}
# VoIPBIN tools this engine does not offer, with why (asked for by name they are refused, never skipped)
NOT_OFFERED = {
    "send_message": "SMS needs a messaging provider, which this engine has not",
    "search_knowledge": "knowledge bases (rag_id) are not part of this engine",
    "get_correlation": "the timeline service is not part of this engine",
    "get_resource": "not offered by this engine",
    "describe_action": "not offered by this engine",
    "case_create": "cases are not part of this engine",
}


class ToolConfigError(ValueError):
    """`tool_names` names a tool this engine does not offer."""


def validate_tool_names(names: list[str]) -> list[str]:
    """The tool names to offer for `tool_names` (`["all"]`, `[]` or names); raises ToolConfigError
    (a ValueError) naming every bad one. The API and the AI files both validate through here."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ToolConfigError("tool_names: a list of tool names, ['all'] or []")
    if names == ["all"]:
        return list(SPECS)
    problems = []
    for name in names:
        if name == "all":
            problems.append("'all' must be alone")
        elif name in NOT_OFFERED:
            problems.append(f"{name!r} is not available: {NOT_OFFERED[name]}")
        elif name not in SPECS:
            problems.append(f"{name!r} is not a tool")
    if len(set(names)) != len(names):
        problems.append("a tool is named twice")
    if problems:
        raise ToolConfigError(f"tool_names: {'; '.join(problems)}; available: {', '.join(SPECS)} or ['all']")
    return list(names)


def tools_for(tool_names: list[str]) -> list[ToolSpec]:
    return [SPECS[name] for name in validate_tool_names(tool_names)]
