"""What one tool call came to: the result the model sees (VoIPBIN's envelope), whether it answers it, endings."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flowengine.providers.llm.base import ToolCall


@dataclass(frozen=True)
class ToolOutcome:
    success: bool
    message: str  # what happened, for the model
    end: str | None = None  # ended_reason when the tool ends the conversation
    hard: bool = False  # with `end`: the whole call ends (stop_flow, endCall), else the flow goes on
    resource_type: str = ""
    resource_id: str = ""

    def content(self, call: ToolCall) -> str:
        """The tool message content: VoIPBIN's {tool_call_id, result, message, resource_type, resource_id}."""
        data: dict[str, Any] = {"tool_call_id": call.id, "result": "success" if self.success else "failed",
                                "message": self.message, "resource_type": self.resource_type,
                                "resource_id": self.resource_id}
        return json.dumps(data)


def ok(message: str, **kw: Any) -> ToolOutcome:
    return ToolOutcome(True, message, **kw)


def failed(message: str) -> ToolOutcome:
    return ToolOutcome(False, message)


def arguments(call: ToolCall) -> tuple[dict[str, Any], bool | None]:
    """The call's arguments without `run_llm`, and `run_llm` if the model passed it."""
    try:
        data = json.loads(call.arguments or "{}")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ValueError(f"the arguments of {call.name} are not a JSON object")  # noqa: TRY004 - told to the model
    run_llm = data.pop("run_llm", None)
    if run_llm is not None and not isinstance(run_llm, bool):
        run_llm = str(run_llm).lower() in ("true", "1", "yes")
    return data, run_llm
